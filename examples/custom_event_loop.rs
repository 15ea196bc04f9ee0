//! Embedding localsock in your own event loop: the sans-IO core
//! (`localsock::core`) driven directly with the `polling` crate, without any
//! localsock runtime. One single-threaded loop runs an echo server and a
//! client talking to it; every Qt decision (states, signals in Qt's order,
//! buffering, the ClosingState drain, error mapping) is the core's, exactly
//! as in the smol, tokio and blocking runtimes.
//!
//! ```text
//! cargo run --example custom_event_loop
//! ```
//!
//! The driver's whole job, for each connection:
//! 1. perform the core's actions (`poll_action`: connect, close);
//! 2. read while `read_capacity() > 0`, into `recv_buf()`, then
//!    `handle_received(n)` (0 = end of stream);
//! 3. write `transmit_chunks()` (vectored) while `wants_write()`, then
//!    `handle_sent(n)`;
//! 4. wait for readiness no later than `poll_timeout()`, then
//!    `handle_timeout(now)`;
//! 5. deliver Qt's signals (`poll_event`).

#[cfg(unix)]
fn main() -> std::io::Result<()> {
    unix::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example drives Unix domain sockets; on Windows the runtimes drive named pipes");
}

#[cfg(unix)]
mod unix {
    use std::io::{self, IoSlice, Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::time::{Duration, Instant};

    use bytes::BufMut;
    use localsock::core::{
        resolve_server_name, Action, Config, Connection, Direction, NameContext, OsError,
    };
    use localsock::{Event, OpenMode, Platform, State};
    use polling::{Event as Interest, Events, Poller};

    const LISTENER: usize = 0;
    const CLIENT: usize = 1;
    const SERVER: usize = 2;
    /// How often a half-closed peer is looked at for its hang-up where the
    /// poller does not report it (kqueue).
    const HANGUP_PROBE: Duration = Duration::from_millis(50);

    fn os_error(e: &io::Error) -> OsError {
        OsError::native(e.raw_os_error().unwrap_or(0))
    }

    /// One connection: the core's state machine and the OS socket it drives.
    struct Driven {
        who: &'static str,
        key: usize,
        conn: Connection,
        stream: Option<UnixStream>,
    }

    impl Driven {
        fn register(&mut self, poller: &Poller, stream: UnixStream) -> io::Result<()> {
            stream.set_nonblocking(true)?;
            // SAFETY: the stream is removed from the poller (`delete`) before
            // it is dropped: in `run_actions` on `Action::Close`, or in
            // `forget` at the end of `main`.
            unsafe { poller.add(&stream, Interest::none(self.key))? };
            self.stream = Some(stream);
            Ok(())
        }

        fn forget(&mut self, poller: &Poller) -> io::Result<()> {
            if let Some(s) = self.stream.take() {
                poller.delete(&s)?;
            }
            Ok(())
        }

        /// 1. What the core asks of the OS.
        fn run_actions(&mut self, poller: &Poller, now: Duration) -> io::Result<()> {
            while let Some(action) = self.conn.poll_action() {
                match action {
                    Action::Connect { address, .. } => {
                        // std's connect waits only while a server's backlog is
                        // full. A production driver connects non-blocking and
                        // reports EAGAIN through `handle_connect_error`, so the
                        // core retries until its connect timeout (as the
                        // runtimes do).
                        match UnixStream::connect(address.as_str()) {
                            Ok(s) => {
                                self.register(poller, s)?;
                                self.conn.handle_connected();
                            }
                            Err(e) => self.conn.handle_connect_error(os_error(&e), now),
                        }
                    }
                    Action::Close => self.forget(poller)?,
                }
            }
            Ok(())
        }

        /// 2 and 3: move bytes both ways until the OS would block.
        fn pump(&mut self) {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            while self.conn.wants_write() {
                let sent = {
                    let chunks: Vec<IoSlice<'_>> = self
                        .conn
                        .transmit_chunks()
                        .take(64)
                        .map(IoSlice::new)
                        .collect();
                    stream.write_vectored(&chunks)
                };
                match sent {
                    Ok(n) => self.conn.handle_sent(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.conn.handle_io_error(Direction::Write, os_error(&e));
                        break;
                    }
                }
            }
            let mut scratch = [0u8; 16 * 1024];
            loop {
                let room = self.conn.read_capacity().min(scratch.len());
                if room == 0 {
                    break;
                }
                match stream.read(&mut scratch[..room]) {
                    Ok(0) => {
                        // End of stream: a peer gone for good (both
                        // directions shut: POLLHUP) is reported first, so it
                        // gets Qt's close sequence; a half-close keeps the
                        // connection open for writing.
                        if hung_up(stream) {
                            self.conn.handle_hangup();
                        }
                        self.conn.handle_received(0);
                        break;
                    }
                    Ok(n) => {
                        // The runtimes read straight into `recv_buf()`; a copy
                        // keeps this example free of `unsafe` for uninitialised
                        // memory.
                        self.conn.recv_buf().put_slice(&scratch[..n]);
                        self.conn.handle_received(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.conn.handle_io_error(Direction::Read, os_error(&e));
                        break;
                    }
                }
            }
        }

        /// After a half-close by the peer: whether it has now gone for good.
        fn watch_hangup(&mut self) {
            if self.conn.wants_hangup_watch() && self.stream.as_ref().is_some_and(hung_up) {
                self.conn.handle_hangup();
            }
        }

        /// 4: what to wait for (the poller is one-shot: re-armed every round).
        fn arm(&self, poller: &Poller) -> io::Result<()> {
            if let Some(s) = &self.stream {
                let interest = Interest::new(
                    self.key,
                    self.conn.read_capacity() > 0,
                    self.conn.wants_write(),
                );
                poller.modify(s, interest)?;
            }
            Ok(())
        }
    }

    /// Whether the peer is gone for good (the socket polls POLLHUP).
    fn hung_up(stream: &UnixStream) -> bool {
        localsock_os::unix::hung_up(stream.as_fd()).unwrap_or(false)
    }

    pub fn main() -> io::Result<()> {
        let temp = std::env::temp_dir().to_string_lossy().into_owned();
        let ctx = NameContext::new(Platform::CURRENT, temp.trim_end_matches('/'));
        let name = format!("localsock-loop-{}", std::process::id());
        // Qt's name rules: the same resolution every runtime uses.
        let address =
            resolve_server_name(&name, false, &ctx).map_err(|e| io::Error::other(e.to_string()))?;

        let poller = Poller::new()?;
        let listener = UnixListener::bind(address.as_str())?;
        listener.set_nonblocking(true)?;
        // SAFETY: the listener is removed from the poller before it is
        // dropped, at the end of this function.
        unsafe { poller.add(&listener, Interest::readable(LISTENER))? };
        println!("listening on {}", address.as_str());

        let origin = Instant::now();
        let config = Config::new(ctx);
        let mut client = Driven {
            who: "client",
            key: CLIENT,
            conn: Connection::new(config.clone()),
            stream: None,
        };
        let mut server: Option<Driven> = None;
        let messages = ["hello", "from", "my own event loop"];
        let mut replies = 0;

        client.conn.connect_to_server(&name, OpenMode::ReadWrite);
        client.run_actions(&poller, origin.elapsed())?;

        let mut events = Events::new();
        loop {
            // Move bytes and deliver signals until nothing more happens.
            loop {
                let now = origin.elapsed();
                let mut signals = 0;
                for d in std::iter::once(&mut client).chain(server.as_mut()) {
                    d.watch_hangup();
                    d.pump();
                    d.run_actions(&poller, now)?;
                }
                // 5. Qt's signals, and what the application does about them.
                while let Some(ev) = client.conn.poll_event() {
                    signals += 1;
                    println!("{:<6} {ev:?}", client.who);
                    match ev {
                        Event::Connected => {
                            let _ = client.conn.write(format!("{}\n", messages[0]));
                        }
                        Event::ReadyRead => {
                            while client.conn.can_read_line() {
                                let line = client.conn.read_line(0).unwrap_or_default();
                                println!("client got {:?}", String::from_utf8_lossy(&line));
                                replies += 1;
                                match messages.get(replies) {
                                    Some(m) => {
                                        let _ = client.conn.write(format!("{m}\n"));
                                    }
                                    // Qt's graceful close: Closing until drained.
                                    None => client.conn.disconnect_from_server(now),
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(s) = server.as_mut() {
                    while let Some(ev) = s.conn.poll_event() {
                        signals += 1;
                        println!("{:<6} {ev:?}", s.who);
                        if ev == Event::ReadyRead {
                            while s.conn.can_read_line() {
                                // Echo, zero-copy: the same `Bytes` goes back.
                                if let Ok(line) = s.conn.read_line(0) {
                                    let _ = s.conn.write(line);
                                }
                            }
                        }
                    }
                }
                if signals == 0 {
                    break;
                }
            }
            let server_done = server
                .as_ref()
                .is_some_and(|s| s.conn.state() == State::Unconnected);
            if client.conn.state() == State::Unconnected && server_done {
                break;
            }

            // 4. Wait for readiness, no later than the core's next deadline.
            client.arm(&poller)?;
            if let Some(s) = &server {
                s.arm(&poller)?;
            }
            let deadline = std::iter::once(&client)
                .chain(server.as_ref())
                .filter_map(|d| d.conn.poll_timeout())
                .min();
            let mut wait = deadline.map(|d| d.saturating_sub(origin.elapsed()));
            // A half-closed peer's hang-up: epoll reports it as an event
            // (POLLHUP is always reported); kqueue does not, so look again
            // every 50 ms while watching.
            if std::iter::once(&client)
                .chain(server.as_ref())
                .any(|d| d.conn.wants_hangup_watch())
            {
                wait = Some(wait.map_or(HANGUP_PROBE, |w| w.min(HANGUP_PROBE)));
            }
            events.clear();
            poller.wait(&mut events, wait.or(Some(Duration::from_secs(10))))?;
            let now = origin.elapsed();
            client.conn.handle_timeout(now);
            if let Some(s) = server.as_mut() {
                s.conn.handle_timeout(now);
            }
            for ev in events.iter() {
                if ev.key == LISTENER && server.is_none() {
                    if let Ok((stream, _)) = listener.accept() {
                        // The server side of the connection: Qt's names for an
                        // accepted socket, connected, no signals yet.
                        let mut d = Driven {
                            who: "server",
                            key: SERVER,
                            conn: Connection::accepted(config.clone(), &address),
                            stream: None,
                        };
                        d.register(&poller, stream)?;
                        server = Some(d);
                    }
                }
            }
        }

        client.forget(&poller)?;
        if let Some(mut s) = server {
            s.forget(&poller)?;
        }
        poller.delete(&listener)?;
        drop(listener);
        let _ = std::fs::remove_file(address.as_str());
        println!("done: {replies} echoes, both sides Unconnected");
        Ok(())
    }
}
