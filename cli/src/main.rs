//! `localsock`: talk to, serve, probe and benchmark local sockets by
//! Qt-style name (`QLocalSocket` / `QLocalServer`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use localsock::Access;
use localsock_cli::{bench, connect, demo, listen, probe, Runtime};

const EXIT_STATUSES: &str = "\
Exit status:
  0  success (probe: a server is alive)
  1  any other failure
  2  bad command line
  3  missing: nothing by that name (Qt's ServerNotFoundError)
  4  stale: a socket file nobody listens on (Qt's ConnectionRefusedError)
  5  access denied (Qt's SocketAccessError)";

const LISTEN_STATUSES: &str = "\
SIGINT and SIGTERM remove the socket file (only if it is still ours), then
end the command. Out of descriptors (EMFILE) it keeps listening and retries
with a backoff; a closed stdout while printing stops it.

Exit status:
  0    --once: the client's connection ended cleanly
  1    listen failed, the server stopped on an error, stdout closed, or
       (--once) the client's connection failed
  2    bad command line
  130  SIGINT
  143  SIGTERM";

const NAMES: &str = "\
Names follow Qt's rules: a relative name lives in $TMPDIR (or /tmp), so
`localsock connect myapp` reaches a Qt program that called
QLocalServer::listen(\"myapp\"); a name starting with / is a path; on
Windows every name is a named pipe, \\\\.\\pipe\\NAME.";

#[derive(Debug, Parser)]
#[command(
    name = "localsock",
    version,
    about = "Talk to, serve, probe and benchmark local sockets by Qt-style name",
    long_about = None,
    after_help = NAMES,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve NAME: print what each client sends on stdout (or echo it back)
    #[command(after_help = format!("{LISTEN_STATUSES}\n\n{NAMES}"))]
    Listen {
        /// The server name (Qt's QLocalServer::listen); with --activated,
        /// the name of the passed socket to serve (LISTEN_FDNAMES)
        #[arg(required_unless_present = "activated")]
        name: Option<String>,
        /// Serve the listening socket systemd passed (socket activation:
        /// LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES); the first one, or the one
        /// NAME names. Unix only
        #[arg(long)]
        activated: bool,
        /// Send each client's bytes back to it instead of printing them
        #[arg(long)]
        echo: bool,
        /// Serve one client, then exit
        #[arg(long)]
        once: bool,
        /// Who may connect (Qt's socket options; several: user,group)
        #[arg(long, value_enum, value_delimiter = ',')]
        access: Vec<AccessArg>,
        /// The localsock runtime (smol: one thread serves every client)
        #[arg(long, value_enum, default_value_t = Runtime::DEFAULT)]
        runtime: Runtime,
    },
    /// Bridge stdin and stdout to the server NAME, like `nc -U`
    #[command(after_help = format!("\
Stdin and the socket are served at once. At end of stdin, pending writes
drain; then, as with `nc -U`, what arrives is printed until the server
closes its side. With -N the write side is half-closed first, so the server
reads end of stream; with -q SECS printing stops SECS seconds after end of
stdin (once all of it is sent, as with nc) at the latest. If the server
goes away before all of stdin was sent, that is reported (\"Broken pipe:
N bytes of input not sent\") with status 1.
A failed connect prints Qt's error text on stderr; a closed stdout ends the
command quietly.

{EXIT_STATUSES}

{NAMES}"))]
    Connect {
        /// The server name (Qt's QLocalSocket::connectToServer)
        name: String,
        /// After end of stdin, quit after SECS seconds at the latest
        #[arg(short = 'q', value_name = "SECS", value_parser = parse_secs)]
        linger: Option<Duration>,
        /// After end of stdin (and its drain), half-close the socket
        /// (shutdown(SHUT_WR))
        #[arg(short = 'N')]
        half_close: bool,
        /// Read-buffer limit in bytes (Qt's setReadBufferSize; 0 = none)
        #[arg(long, value_name = "BYTES")]
        read_buffer: Option<usize>,
        /// The localsock runtime (smol waits on stdin and the socket at once;
        /// blocking looks at stdin every 10 ms)
        #[arg(long, value_enum, default_value_t = Runtime::DEFAULT)]
        runtime: Runtime,
    },
    /// Is a server alive at NAME, is the name missing, is a stale socket left
    /// behind, or is access denied?
    #[command(after_help = format!("{EXIT_STATUSES}\n\n{NAMES}"))]
    Probe {
        /// The server name
        name: String,
    },
    /// A server and a client talk on each runtime, with Qt's signals shown
    Demo {
        /// Only this runtime (default: every runtime)
        #[arg(long, value_enum)]
        runtime: Option<Runtime>,
    },
    /// Benchmarks every runtime next to raw sockets and interprocess
    Bench {
        /// Only this runtime's rows, with their baselines (default: all)
        #[arg(long, value_enum)]
        runtime: Option<Runtime>,
        /// Small counts: the whole table in well under a minute
        #[arg(long)]
        quick: bool,
        /// Only these workloads (a, b64, b4, c, d, e, f), for profiling
        #[arg(long, hide = true, value_delimiter = ',')]
        workloads: Vec<String>,
        /// Only these rows (raw, localsock, interprocess), for profiling
        #[arg(long, hide = true, value_delimiter = ',')]
        libs: Vec<String>,
        /// Only these layouts (threads, pinned, smol, tokio-ct, tokio-mt),
        /// for profiling
        #[arg(long, hide = true, value_delimiter = ',')]
        layouts: Vec<String>,
        /// Rounds of every workload (default 5, C 3; with --quick 1, D and
        /// F 5), to tell a small gap from noise
        #[arg(long, hide = true, value_parser = clap::value_parser!(u16).range(1..))]
        rounds: Option<u16>,
    },
    /// Print a shell completion script on stdout (e.g. `localsock completions
    /// bash > /etc/bash_completion.d/localsock`)
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `localsock man | man -l -`)
    Man,
    /// One benchmark row in its own process (used by `bench`)
    #[command(hide = true)]
    BenchRow {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Qt's `QLocalServer::SocketOption` access bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AccessArg {
    /// UserAccessOption: only the owner
    User,
    /// GroupAccessOption: the owner's group
    Group,
    /// OtherAccessOption: everyone else
    Other,
    /// WorldAccessOption: everyone
    World,
}

fn access(args: &[AccessArg]) -> Access {
    let mut a = Access::DEFAULT;
    for arg in args {
        match arg {
            AccessArg::User => a.user = true,
            AccessArg::Group => a.group = true,
            AccessArg::Other => a.other = true,
            AccessArg::World => a = Access::WORLD,
        }
    }
    a
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{s}`: seconds must be between 0 and 1e9"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Writes generated text to stdout: 0, or 1 if stdout failed (a closed
/// pipe ends quietly with 0, as with `| head`).
fn print_or_fail(data: &[u8]) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("localsock: cannot write to stdout: {e}");
            1
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Listen {
            name,
            activated,
            echo,
            once,
            access: a,
            runtime,
        } => listen::run(
            runtime,
            &listen::ListenOptions {
                name: name.unwrap_or_default(),
                activated,
                echo,
                once,
                access: access(&a),
            },
        ),
        Command::Connect {
            name,
            linger,
            half_close,
            read_buffer,
            runtime,
        } => connect::run(
            runtime,
            &connect::ConnectOptions {
                name,
                linger,
                half_close,
                read_buffer,
            },
        ),
        Command::Probe { name } => probe::run(&name),
        Command::Demo { runtime } => match runtime {
            Some(rt) => demo::run(&[rt]),
            None => demo::run(&Runtime::ALL),
        },
        Command::Bench {
            runtime,
            quick,
            workloads,
            libs,
            layouts,
            rounds,
        } => bench::run_cli(
            runtime,
            quick,
            workloads,
            libs,
            layouts,
            rounds.map(usize::from),
        ),
        Command::BenchRow { args } => bench::run_row_cli(&args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "localsock", &mut out);
            print_or_fail(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => print_or_fail(&out),
                Err(e) => {
                    eprintln!("localsock: cannot render the man page: {e}");
                    1
                }
            }
        }
    };
    ExitCode::from(status)
}
