//! The interop matrix: a server of one runtime and a client of another (or
//! the same), moving data both ways, in one process and across processes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::harness::*;
use crate::*;

/// One interop check for one (server, client) pair: its name (the last
/// part of the test name) and its entry point.
#[derive(Debug, Clone, Copy)]
pub struct InteropCheck {
    /// The check's name.
    pub name: &'static str,
    /// Runs it, given the path of the `lsk-interop` binary (the client of
    /// `client_in_another_process`); `Err` = ignored, with the reason.
    pub run: fn(&str) -> Result<(), Skip>,
}

/// The interop checks for server runtime `S` and client runtime `C`.
pub fn checks<S: Runtime, C: Runtime>() -> [InteropCheck; 5] {
    [
        InteropCheck {
            name: "bulk_both_ways_checksum",
            run: |_| {
                bulk_both_ways::<S, C>();
                Ok(())
            },
        },
        InteropCheck {
            name: "ping_pong",
            run: |_| {
                ping_pong::<S, C>();
                Ok(())
            },
        },
        InteropCheck {
            name: "half_close_request_response",
            run: |_| half_close_request_response::<S, C>(),
        },
        InteropCheck {
            name: "half_close_to_a_raw_std_server",
            run: |_| half_close_raw_server::<C>(),
        },
        InteropCheck {
            name: "client_in_another_process",
            run: |exe| {
                cross_process::<S, C>(exe);
                Ok(())
            },
        },
    ]
}

fn pair<S: Runtime, C: Runtime>(
    tag: &str,
) -> (S::Server, C::Socket, <S::Server as TestServer>::Socket) {
    let name = unique_name(tag);
    let mut server = S::server();
    server.listen(&name).expect("listen");
    let mut client = C::socket();
    client.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(client.wait_for_connected(LONG), "{}", client.error_string());
    let peer = server.accept_one();
    (server, client, peer)
}

/// 4 MiB each way at the same time, checksummed on arrival.
pub fn bulk_both_ways<S: Runtime, C: Runtime>() {
    let (_server, mut client, peer) = pair::<S, C>("ibulk");
    let up = payload(4 << 20, 11);
    let down = payload(4 << 20, 12);
    let (up_sum, down_sum) = (checksum(&up), checksum(&down));
    let server_side = spawn(move || {
        let mut peer = peer;
        exchange(&mut peer, &down, up_sum)
    });
    let got = exchange(&mut client, &up, down_sum);
    assert_eq!(got, down_sum, "server → client intact");
    assert_eq!(
        server_side.join().unwrap(),
        up_sum,
        "client → server intact"
    );
}

/// Sends `out` and receives as much, interleaved in 64 KiB turns so neither
/// side can block the other; returns the checksum of what arrived.
fn exchange<T: TestSocket>(s: &mut T, out: &[u8], _expect: u64) -> u64 {
    let mut got = vec![0u8; out.len()];
    let (mut sent, mut recvd) = (0, 0);
    while sent < out.len() || recvd < got.len() {
        if sent < out.len() {
            let end = (sent + 65536).min(out.len());
            s.io_write_all(&out[sent..end]).unwrap();
            sent = end;
        }
        if recvd < got.len() {
            let end = (recvd + 65536).min(got.len());
            s.io_read_exact(&mut got[recvd..end]).unwrap();
            recvd = end;
        }
    }
    checksum(&got)
}

/// 1,000 round trips of 64 bytes, each checked.
pub fn ping_pong<S: Runtime, C: Runtime>() {
    let (_server, mut client, peer) = pair::<S, C>("ipp");
    let echo = spawn(move || {
        let mut peer = peer;
        let mut buf = [0u8; 64];
        for _ in 0..1000 {
            peer.io_read_exact(&mut buf).unwrap();
            peer.io_write_all(&buf).unwrap();
        }
    });
    for i in 0..1000u32 {
        let msg = payload(64, u64::from(i));
        client.io_write_all(&msg).unwrap();
        let mut back = [0u8; 64];
        client.io_read_exact(&mut back).unwrap();
        assert_eq!(&back[..], &msg[..], "round trip {i}");
    }
    echo.join().unwrap();
}

/// The client runs in a child process (`lsk-interop client <runtime>`),
/// sends 1 MiB and checks the echo; the server echoes here.
pub fn cross_process<S: Runtime, C: Runtime>(peer_exe: &str) {
    let name = unique_name("ixp");
    let mut server = S::server();
    server.listen(&name).unwrap();
    let mut child = Command::new(peer_exe)
        .args(["client", C::NAME, &name, &(1usize << 20).to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start lsk-interop");
    let mut peer = server.accept_one();
    let mut buf = vec![0u8; 1 << 20];
    peer.io_read_exact(&mut buf).unwrap();
    peer.io_write_all(&buf).unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {line}");
    assert_eq!(
        line.trim(),
        format!("ok {}", checksum(&payload(1 << 20, 21)))
    );
}

/// The child side of [`cross_process`]: connect with runtime `R`, send
/// `len` bytes, read the echo, print `ok <checksum>`.
pub fn child_client<R: Runtime>(name: &str, len: usize) -> Result<(), String> {
    let mut c = R::socket();
    c.connect_to_server(name, OpenMode::ReadWrite);
    if !c.wait_for_connected(LONG) {
        return Err(c.error_string());
    }
    let out = payload(len, 21);
    c.io_write_all(&out).map_err(|e| e.to_string())?;
    let mut back = vec![0u8; len];
    c.io_read_exact(&mut back).map_err(|e| e.to_string())?;
    if back != out {
        return Err("echo differs".into());
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ok {}", checksum(&back)).map_err(|e| e.to_string())?;
    Ok(())
}

/// Half-close (Unix): the client sends a 1 MiB request and half-closes;
/// the server reads it to its end (`Ok(0)`), then replies with 2 MiB and
/// closes; the client reads the reply to its end. Both checksummed.
pub fn half_close_request_response<S: Runtime, C: Runtime>() -> Result<(), Skip> {
    if !cfg!(unix) {
        return Err(Skip::platform("unix", "named pipes have no half-close"));
    }
    let (_server, mut client, peer) = pair::<S, C>("ihalf");
    let request = payload(1 << 20, 61);
    let reply = payload(2 << 20, 62);
    let (request_sum, reply_sum) = (checksum(&request), checksum(&reply));
    let reply_len = reply.len();
    let server_side = spawn(move || {
        let mut peer = peer;
        let got = peer
            .io_read_to_end()
            .expect("the request, then end of stream");
        assert_eq!(peer.state(), State::Connected, "a half-close is no error");
        peer.io_write_all(&reply)
            .expect("the reply after the request's end");
        peer.disconnect_from_server();
        if peer.state() != State::Unconnected {
            assert!(peer.wait_for_disconnected(LONG), "{}", peer.error_string());
        }
        checksum(&got)
    });
    client.io_write_all(&request).unwrap();
    client.io_shutdown_write().unwrap();
    let got = client.io_read_to_end().unwrap();
    assert_eq!(server_side.join().unwrap(), request_sum, "request intact");
    assert_eq!(got.len(), reply_len);
    assert_eq!(checksum(&got), reply_sum, "reply intact");
    Ok(())
}

/// Half-close against a raw `std::os::unix::net::UnixListener` server
/// (Unix): the client's request, its half-close, and the whole reply.
#[cfg(unix)]
pub fn half_close_raw_server<C: Runtime>() -> Result<(), Skip> {
    use std::io::Read;
    let dir = format!("{}/{}", temp_dir(), unique_name("irawhalf"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = format!("{dir}/s");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let request = payload(256 << 10, 63);
    let reply = payload(1 << 20, 64);
    let (request_sum, reply_sum) = (checksum(&request), checksum(&reply));
    let server_side = spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&reply).unwrap();
        checksum(&got)
    });
    let mut client = C::socket();
    client.connect_to_server(&path, OpenMode::ReadWrite);
    assert!(client.wait_for_connected(LONG), "{}", client.error_string());
    client.io_write_all(&request).unwrap();
    client.io_shutdown_write().unwrap();
    let got = client.io_read_to_end().unwrap();
    assert_eq!(server_side.join().unwrap(), request_sum);
    assert_eq!(checksum(&got), reply_sum);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Half-close against a raw std server: Unix only.
#[cfg(not(unix))]
pub fn half_close_raw_server<C: Runtime>() -> Result<(), Skip> {
    Err(Skip::platform(
        "unix",
        "named pipes have no half-close, and std has no pipe server",
    ))
}
