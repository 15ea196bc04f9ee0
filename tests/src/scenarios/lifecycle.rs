//! The end of a connection: nothing lost on half-close, on a failing send or
//! on drop; Qt's close path observable as in Qt; waits and setters that
//! hold on used sockets. Each scenario names the core rule it checks (see
//! `docs/semantics.md`, "Our deliberate differences from Qt").

use std::io;
use std::time::Duration;

use crate::harness::*;
use crate::*;

use super::connected_pair as pair;

scenarios!(
    /// Half-close (Unix): request → EOF → response. The reply, queued before
    /// the EOF arrived and written after it, reaches the peer whole; reads end
    /// with `Ok(0)`; the peer's later close ends the connection without this
    /// side writing (the hang-up watch), with one ReadChannelFinished.
    #[only(unix, "named pipes have no half-close")]
    pub fn half_close_delivers_the_whole_reply<R: Runtime>() {
        use std::io::{Read, Write};
        use std::net::Shutdown;
        let (_server, mut raw, mut ours) = raw_peer::<R>("half");
        let early = payload(4 << 20, 21);
        let late = payload(4 << 20, 22);
        let mut expected = early.clone();
        expected.extend_from_slice(&late);
        // Queued before the peer's EOF arrives, without waiting.
        ours.write(&early).unwrap();
        raw.write_all(b"request\n").unwrap();
        raw.shutdown(Shutdown::Write).unwrap();
        let reader = spawn(move || {
            let mut got = Vec::new();
            raw.read_to_end(&mut got).unwrap();
            (raw, got)
        });
        assert_eq!(ours.io_read_to_end().unwrap(), b"request\n");
        assert_eq!(ours.state(), State::Connected, "a half-close is no error");
        assert_eq!(ours.error(), SocketError::Unknown);
        assert!(
            !ours.wait_for_ready_read(LONG),
            "no more data can come: the wait fails at once"
        );
        let mut buf = [0u8; 8];
        assert_eq!(ours.io_read(&mut buf).unwrap(), 0, "end of stream again");
        // Written after reading to the end.
        ours.io_write_all(&late).unwrap();
        ours.disconnect_from_server();
        if ours.state() != State::Unconnected {
            assert!(ours.wait_for_disconnected(LONG), "{}", ours.error_string());
        }
        let (_raw, got) = reader.join().unwrap();
        assert_eq!(got.len(), expected.len());
        assert_eq!(checksum(&got), checksum(&expected));
        let events = ours.take_events();
        assert_eq!(count(&events, Event::ReadChannelFinished), 1, "{events:?}");
        assert_eq!(count(&events, Event::Error(SocketError::PeerClosed)), 0);
        assert_eq!(count(&events, Event::Disconnected), 1);
    },

    /// Half-close, then the peer goes away while this side is idle: the wait
    /// for the disconnect ends (the driver watches for the hang-up), with
    /// Error(PeerClosed), no Closing (nothing pending), Unconnected,
    /// Disconnected and no second ReadChannelFinished.
    #[only(unix, "named pipes have no half-close")]
    pub fn half_closed_peer_leaving_ends_an_idle_wait<R: Runtime>() {
        use std::io::{Read, Write};
        use std::net::Shutdown;
        let (_server, mut raw, mut ours) = raw_peer::<R>("halfgone");
        raw.write_all(b"bye").unwrap();
        raw.shutdown(Shutdown::Write).unwrap();
        assert_eq!(ours.io_read_to_end().unwrap(), b"bye");
        assert!(ours.take_events().contains(&Event::ReadChannelFinished));
        ours.io_write_all(b"still writing").unwrap();
        let closer = spawn(move || {
            let mut got = [0u8; 13];
            raw.read_exact(&mut got).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            drop(raw);
            got
        });
        assert!(ours.wait_for_disconnected(LONG), "the hang-up is noticed");
        assert_eq!(&closer.join().unwrap(), b"still writing");
        let events = ours.take_events();
        assert_eq!(
            events
                .iter()
                .filter(|e| !matches!(e, Event::BytesWritten(_)))
                .copied()
                .collect::<Vec<_>>(),
            [
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Unconnected),
                Event::Disconnected
            ]
        );
        assert_eq!(ours.error(), SocketError::PeerClosed);
    },

    /// A send that fails because the peer died never discards what the peer
    /// sent before it died: every byte its writes completed is read out before
    /// end of stream, and the lost reply is reported by a flush.
    pub fn failed_send_keeps_what_the_peer_sent<R: Runtime>() {
        // Small enough that the peer's writes complete without our reading
        // (a Windows pipe buffers 64 KiB).
        let len = if cfg!(windows) { 60_000 } else { 100_000 };
        let (_server, client, mut ours) = pair::<R>("failsend");
        let sent = payload(len, 31);
        let expected = sent.clone();
        let writer = spawn(move || {
            let mut client = client;
            client.io_write_all(&sent).unwrap();
            drop(client);
        });
        writer.join().unwrap();
        // The reply cannot be delivered: the send fails first.
        ours.write(&payload(4 << 20, 32)).unwrap();
        ours.flush();
        let got = ours.io_read_to_end().expect("end of stream, not an error");
        assert_eq!(got.len(), expected.len(), "nothing the peer sent is lost");
        assert_eq!(checksum(&got), checksum(&expected));
        assert_eq!(ours.state(), State::Unconnected);
        assert_eq!(ours.error(), SocketError::PeerClosed);
        assert!(
            ours.io_write_all(b"").is_err(),
            "the flush reports the lost reply"
        );
    },

    /// Dropping a socket hands the kernel its queued writes (without
    /// blocking) before it closes: `write_all` then drop delivers.
    pub fn drop_sends_what_the_kernel_takes<R: Runtime>() {
        let (_server, mut client, mut ours) = pair::<R>("dropsend");
        let n = client
            .io_write_vectored(&[io::IoSlice::new(b"bye\n")])
            .unwrap();
        assert_eq!(n, 4);
        drop(client);
        assert_eq!(ours.io_read_to_end().unwrap(), b"bye\n");
    },

    /// Qt's delayedDisconnect: with a write pending, a disconnect is Closing
    /// when the call returns, and the wait sees it drained.
    pub fn disconnect_with_pending_writes_is_closing<R: Runtime>() {
        let (_server, mut c, mut peer) = pair::<R>("closing");
        c.write(b"z").unwrap();
        c.disconnect_from_server();
        assert_eq!(
            c.state(),
            State::Closing,
            "nothing is written inside the call"
        );
        assert!(c.wait_for_disconnected(LONG));
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(peer.io_read_to_end().unwrap(), b"z");
        // close() too.
        let (_server, mut c, mut peer) = pair::<R>("closing2");
        c.write(b"y").unwrap();
        c.close();
        assert_eq!(c.state(), State::Closing);
        assert!(c.wait_for_disconnected(LONG));
        assert_eq!(peer.io_read_to_end().unwrap(), b"y");
    },

    /// Qt's abort: AboutToClose comes last.
    pub fn abort_emits_about_to_close_last<R: Runtime>() {
        let (_server, mut c, _peer) = pair::<R>("abortorder");
        c.write(b"unsent").unwrap();
        c.abort();
        assert_eq!(
            c.take_events(),
            [
                Event::StateChanged(State::Unconnected),
                Event::ReadChannelFinished,
                Event::Disconnected,
                Event::AboutToClose
            ]
        );
    },

    /// A peer that goes away while our writes are pending: Qt's PeerClosed,
    /// Closing, Unconnected.
    pub fn peer_gone_with_writes_pending_goes_through_closing<R: Runtime>() {
        let (_server, mut c, peer) = pair::<R>("resetclosing");
        c.write(&payload(8 << 20, 41)).unwrap();
        c.flush();
        drop(peer);
        assert!(c.wait_for_disconnected(LONG));
        let events = c.take_events();
        let transitions: Vec<Event> = events
            .iter()
            .filter(|e| !matches!(e, Event::BytesWritten(_) | Event::ReadyRead))
            .copied()
            .collect();
        assert_eq!(
            transitions,
            [
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Closing),
                Event::StateChanged(State::Unconnected),
                Event::ReadChannelFinished,
                Event::Disconnected
            ]
        );
    },

    /// error_string() is Qt's exact text; our detail is in the error's Display.
    pub fn error_string_is_qts_exact_text<R: Runtime>() {
        let mut c = R::socket();
        c.connect_to_server("", OpenMode::ReadWrite);
        assert!(!c.wait_for_connected(LONG));
        assert_eq!(
            c.error_string(),
            "QLocalSocket::connectToServer: Invalid name"
        );
    },

    /// Timed-out waits do not grow the event queue: consecutive timeouts merge.
    pub fn timed_out_waits_keep_the_queue_bounded<R: Runtime>() {
        let (_server, mut c, _peer) = pair::<R>("timeouts");
        for _ in 0..100_000 {
            assert!(!c.wait_for_ready_read(Some(Duration::ZERO)));
        }
        assert_eq!(c.take_events(), [Event::Error(SocketError::SocketTimeout)]);
        assert_eq!(c.state(), State::Connected);
    },

    /// A drain timeout set on an accepted socket applies to its disconnect.
    pub fn drain_timeout_applies_to_accepted_sockets<R: Runtime>() {
        let (_server, _client, mut ours) = pair::<R>("draintimeout");
        ours.set_drain_timeout(Some(Duration::from_millis(300)));
        // The client never reads: 16 MiB cannot drain.
        ours.write(&payload(16 << 20, 51)).unwrap();
        ours.disconnect_from_server();
        assert_eq!(ours.state(), State::Closing);
        assert!(ours.wait_for_disconnected(LONG), "the drain timeout fired");
        assert_eq!(ours.error(), SocketError::SocketTimeout);
        assert_eq!(ours.state(), State::Unconnected);
    },

    /// A connect timeout set on a socket that was used before applies to its
    /// next connect (Linux: a full backlog keeps the connect retrying).
    #[only(
        target_os = "linux",
        "it fills a listen backlog, which only Linux reports as EAGAIN (a connect to retry)"
    )]
    pub fn connect_timeout_applies_to_reused_sockets<R: Runtime>() {
        let (server, mut c, peer) = pair::<R>("reuse");
        drop(peer);
        assert!(c.wait_for_disconnected(LONG));
        drop(server);
        let (_dir, path, _listener, _filler) = full_backlog();
        c.set_connect_timeout(Duration::from_millis(300));
        c.connect_to_server(&path, OpenMode::ReadWrite);
        // Qt's default (30 s) would still be Connecting when this 10 s wait
        // gives up; the new timeout has failed the connect long before.
        assert!(!c.wait_for_connected(Some(Duration::from_secs(10))));
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(c.error(), SocketError::SocketTimeout);
    },

    /// docs/semantics.md difference 5: connects beyond a full backlog
    /// (Windows: every pipe instance busy) stay Connecting while the core
    /// retries (`EAGAIN` / `ERROR_PIPE_BUSY`); one with a short connect
    /// timeout fails with SocketTimeout; the patient ones connect once the
    /// server accepts.
    #[only(
        any(target_os = "linux", windows),
        "other Unix systems refuse a connect to a full backlog instead of reporting EAGAIN: nothing to retry"
    )]
    pub fn full_backlog_is_retried_until_the_connect_timeout<R: Runtime>() {
        let name = unique_name("backlog");
        let mut server = R::server();
        server.listen_with(&name, one_slot()).unwrap();
        // Fill the backlog without accepting.
        let mut queued = Vec::new();
        let mut short = loop {
            let mut s = R::socket();
            s.set_connect_timeout(Duration::from_millis(150));
            s.connect_to_server(&name, OpenMode::ReadWrite);
            if s.state() == State::Connecting {
                break s;
            }
            assert_eq!(s.state(), State::Connected, "{}", s.error_string());
            queued.push(s);
            assert!(queued.len() < 64, "the backlog never filled");
        };
        assert!(!short.wait_for_connected(None));
        assert_eq!(short.state(), State::Unconnected);
        assert_eq!(short.error(), SocketError::SocketTimeout);
        assert!(short
            .take_events()
            .contains(&Event::Error(SocketError::SocketTimeout)));

        // Patient clients wait while the server starts accepting.
        let mut patient = Vec::new();
        for _ in 0..3 {
            let mut s = R::socket();
            s.connect_to_server(&name, OpenMode::ReadWrite);
            assert_eq!(s.state(), State::Connecting);
            patient.push(s);
        }
        assert!(!patient[0].wait_for_connected(Some(Duration::from_millis(30))));
        assert_eq!(patient[0].state(), State::Connecting, "still retrying");
        let expected = queued.len() + patient.len();
        let connecting = spawn(move || {
            for s in &mut patient {
                assert!(s.wait_for_connected(LONG), "{}", s.error_string());
            }
            patient
        });
        let mut peers = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while peers.len() < expected && std::time::Instant::now() < deadline {
            if server.wait_for_new_connection(Some(Duration::from_millis(500))) {
                while let Some(peer) = server.next_pending_connection() {
                    peers.push(peer);
                }
            }
        }
        let _patient = connecting.join().unwrap();
        assert_eq!(peers.len(), expected);
    },

    /// A connect waiting for room in a full backlog (Windows: for a busy
    /// pipe) ends when the server goes away: the retry finds no server and
    /// fails with ServerNotFound, long before the connect timeout (30 s),
    /// whether the runtime waits inside the OS or sleeps between retries.
    #[only(
        any(target_os = "linux", windows),
        "other Unix systems refuse a connect to a full backlog instead of reporting EAGAIN: nothing to retry"
    )]
    pub fn a_connect_waiting_on_a_full_backlog_ends_when_the_server_closes<R: Runtime>() {
        let name = unique_name("backlog-gone");
        let mut server = R::server();
        server.listen_with(&name, one_slot()).unwrap();
        let mut queued = Vec::new();
        let waiting = loop {
            let mut s = R::socket();
            s.connect_to_server(&name, OpenMode::ReadWrite);
            if s.state() == State::Connecting {
                break s;
            }
            assert_eq!(s.state(), State::Connected, "{}", s.error_string());
            queued.push(s);
            assert!(queued.len() < 64, "the backlog never filled");
        };
        let client = wait_for_connected_in_thread(waiting);
        server.close();
        let (waiting, connected) = client.join().unwrap();
        assert!(!connected, "connected to a closed server");
        assert_eq!(waiting.state(), State::Unconnected);
        assert_eq!(
            waiting.error(),
            SocketError::ServerNotFound,
            "{}",
            waiting.error_string()
        );
        drop(queued);
    },

    /// The same when the server dies (kill -9: its listening socket closes,
    /// the socket file stays): the waiting connect is refused.
    #[only(
        target_os = "linux",
        "it holds a connect in Connecting with a full listen backlog, which only Linux retries"
    )]
    pub fn a_connect_waiting_on_a_full_backlog_is_refused_when_the_server_dies<R: Runtime>() {
        let (_dir, path, listener, fillers) = full_backlog();
        let mut c = R::socket();
        c.connect_to_server(&path, OpenMode::ReadWrite);
        assert_eq!(c.state(), State::Connecting, "the backlog is full");
        let client = wait_for_connected_in_thread(c);
        drop(listener);
        let (c, connected) = client.join().unwrap();
        assert!(!connected, "connected to a dead server");
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(
            c.error(),
            SocketError::ConnectionRefused,
            "{}",
            c.error_string()
        );
        drop(fillers);
    },

    /// A read while Connecting waits for the connect (as a write does); after
    /// abort a read fails with "device not open".
    #[only(
        target_os = "linux",
        "it holds a connect in Connecting with a full listen backlog, which only Linux retries"
    )]
    pub fn reads_wait_for_the_connect_and_fail_after_abort<R: Runtime>() {
        use std::io::Write;
        let (_dir, path, listener, fillers) = full_backlog();
        let mut c = R::socket();
        c.connect_to_server(&path, OpenMode::ReadWrite);
        assert_eq!(c.state(), State::Connecting, "the backlog is full");
        let acceptor = spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut accepted = Vec::new();
            for _ in 0..=fillers.len() + 1 {
                let fd = rustix::net::accept(&listener).unwrap();
                let mut s = std::os::unix::net::UnixStream::from(fd);
                let _ = s.write_all(b"hi");
                accepted.push(s);
                if accepted.len() > fillers.len() {
                    break;
                }
            }
            (listener, fillers, accepted)
        });
        let mut buf = [0u8; 2];
        c.io_read_exact(&mut buf)
            .expect("the read waits for the connect");
        assert_eq!(&buf, b"hi");
        let _keep = acceptor.join().unwrap();
        c.abort();
        let err = c.io_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert_eq!(err.to_string(), "device not open");
    }
);

/// A raw std peer connected to a runtime's server (Unix).
#[cfg(unix)]
fn raw_peer<R: Runtime>(
    tag: &str,
) -> (
    R::Server,
    std::os::unix::net::UnixStream,
    <R::Server as TestServer>::Socket,
) {
    let name = unique_name(tag);
    let mut server = R::server();
    server.listen(&name).expect("listen");
    let raw = std::os::unix::net::UnixStream::connect(server.full_server_name()).unwrap();
    let ours = server.accept_one();
    (server, raw, ours)
}

#[cfg(unix)]
fn count(events: &[Event], e: Event) -> usize {
    events.iter().filter(|x| **x == e).count()
}

/// Runs `socket`'s `wait_for_connected` (up to 60 s) on another thread
/// and returns once that thread has started, after a pause that lets it
/// get inside the wait (what the caller does next ends the wait the same
/// way in either order); the thread gives back the socket and the result.
#[cfg(any(target_os = "linux", windows))]
fn wait_for_connected_in_thread<S: TestSocket + Send + 'static>(
    mut socket: S,
) -> std::thread::JoinHandle<(S, bool)> {
    let (started, started_rx) = std::sync::mpsc::channel();
    let client = spawn(move || {
        started.send(()).unwrap();
        let connected = socket.wait_for_connected(Some(Duration::from_secs(60)));
        (socket, connected)
    });
    started_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    client
}

/// A listener whose backlog is full (Linux): nobody accepts, and one
/// connection already waits.
#[cfg(target_os = "linux")]
fn full_backlog() -> (
    TempDir,
    String,
    rustix::fd::OwnedFd,
    Vec<std::os::unix::net::UnixStream>,
) {
    use rustix::net::{bind, listen, socket, AddressFamily, SocketAddrUnix, SocketType};
    let dir = TempDir::new("backlog");
    let path = format!("{}/s", dir.0);
    let fd = socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    bind(&fd, &SocketAddrUnix::new(path.as_str()).unwrap()).unwrap();
    listen(&fd, 0).unwrap();
    let mut fillers = Vec::new();
    // Fill the backlog with non-blocking connects until one would block.
    for _ in 0..8 {
        let s = socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        rustix::io::ioctl_fionbio(&s, true).unwrap();
        match rustix::net::connect(&s, &SocketAddrUnix::new(path.as_str()).unwrap()) {
            Ok(()) => fillers.push(std::os::unix::net::UnixStream::from(s)),
            Err(_) => break,
        }
    }
    (dir, path, fd, fillers)
}

/// A private directory removed on drop.
#[cfg(target_os = "linux")]
struct TempDir(String);

#[cfg(target_os = "linux")]
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = format!("{}/{}", temp_dir(), unique_name(tag));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

#[cfg(target_os = "linux")]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
