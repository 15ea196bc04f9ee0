//! A runtime of your own for localsock's async driver.
//!
//! `localsock-async` is the one async driver behind `localsock-smol` and
//! `localsock-tokio`; it needs from an executor only what its
//! [`Runtime`](localsock_async::Runtime) trait names: a timer for the core's
//! deadlines and, on Unix, a reactor that says when a descriptor may be
//! readable or writable. This example implements both on the `polling`
//! crate, with a single-threaded `block_on`, in about 150 lines, and runs a
//! line echo over it: Qt's states, signals, errors and buffering are the
//! same as on smol and tokio, because they are the core's.
//!
//! ```text
//! cargo run --example custom_executor
//! ```
//!
//! On Windows the runtime needs only the timer: named pipes complete
//! through overlapped I/O whose events wake the task from the Win32 thread
//! pool, and the waker here interrupts the poller.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use localsock_async::{Runtime, SocketError};

/// The runtime: a unit type, as the trait asks; its reactor is global.
#[derive(Debug, Clone, Copy)]
struct Polling;

type LocalSocket = localsock_async::LocalSocket<Polling>;
type LocalServer = localsock_async::LocalServer<Polling>;

/// One `polling::Poller`, the wakers waiting on each descriptor, and the
/// timers, ordered by expiry.
struct Reactor {
    poller: polling::Poller,
    state: Mutex<ReactorState>,
}

#[derive(Default)]
struct ReactorState {
    /// Keys of registered descriptors (Unix only: pipes need no reactor).
    #[cfg_attr(not(unix), allow(dead_code))]
    next_key: usize,
    /// Per registered descriptor: the task waiting to read, and to write.
    waiting: HashMap<usize, [Option<Waker>; 2]>,
    /// Armed timers: (expiry, timer id) -> the task to wake.
    timers: BTreeMap<(Instant, u64), Waker>,
}

fn reactor() -> &'static Reactor {
    static REACTOR: OnceLock<Reactor> = OnceLock::new();
    REACTOR.get_or_init(|| Reactor {
        poller: polling::Poller::new().expect("an OS poller"),
        state: Mutex::default(),
    })
}

impl Reactor {
    /// Waits for an event, a timer or a wake-up, then wakes whoever waited.
    fn turn(&self) -> std::io::Result<()> {
        let next_timer = self.state.lock().unwrap().timers.keys().next().map(|k| k.0);
        let timeout = next_timer.map(|at| at.saturating_duration_since(Instant::now()));
        let mut events = polling::Events::new();
        self.poller.wait(&mut events, timeout)?;
        let mut wake = Vec::new();
        let mut state = self.state.lock().unwrap();
        // `polling` is one-shot: an event disarms the descriptor, so both of
        // its tasks are woken; one that was not ready finds `WouldBlock`
        // and waits again, which re-arms it.
        for event in events.iter() {
            if let Some(w) = state.waiting.get_mut(&event.key) {
                wake.extend(w.iter_mut().filter_map(Option::take));
            }
        }
        let now = Instant::now();
        while let Some(entry) = state.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            wake.push(entry.remove());
        }
        drop(state);
        wake.into_iter().for_each(Waker::wake);
        Ok(())
    }
}

impl Runtime for Polling {
    type Timer = Timer;
    #[cfg(unix)]
    type Source<T: std::os::fd::AsFd + std::fmt::Debug + Send + Sync + 'static> = Source<T>;

    fn timer(at: Instant) -> Timer {
        static IDS: AtomicU64 = AtomicU64::new(0);
        Timer {
            at,
            id: IDS.fetch_add(1, Ordering::Relaxed),
        }
    }

    #[cfg(unix)]
    fn register<T: std::os::fd::AsFd + std::fmt::Debug + Send + Sync + 'static>(
        io: T,
    ) -> std::io::Result<Source<T>> {
        let r = reactor();
        let key = {
            let mut state = r.state.lock().unwrap();
            state.next_key += 1;
            let key = state.next_key;
            state.waiting.insert(key, [None, None]);
            key
        };
        // SAFETY: `Source` owns `io` and deletes it from the poller in its
        // `Drop`, before `io` (and with it the descriptor) is dropped.
        unsafe { r.poller.add(&io.as_fd(), polling::Event::none(key)) }?;
        Ok(Source { io, key })
    }
}

/// A timer of the reactor; it is armed while a task waits on it.
#[derive(Debug)]
struct Timer {
    at: Instant,
    id: u64,
}

impl localsock_async::Timer for Timer {
    fn reset(&mut self, at: Instant) {
        let mut state = reactor().state.lock().unwrap();
        if let Some(waker) = state.timers.remove(&(self.at, self.id)) {
            state.timers.insert((at, self.id), waker);
        }
        self.at = at;
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = reactor().state.lock().unwrap();
        if Instant::now() >= self.at {
            state.timers.remove(&(self.at, self.id));
            return Poll::Ready(());
        }
        state.timers.insert((self.at, self.id), cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        reactor()
            .state
            .lock()
            .unwrap()
            .timers
            .remove(&(self.at, self.id));
    }
}

/// A descriptor in the poller.
#[cfg(unix)]
#[derive(Debug)]
struct Source<T: std::os::fd::AsFd> {
    io: T,
    key: usize,
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd + std::fmt::Debug + Send + Sync> localsock_async::Source<T>
    for Source<T>
{
    fn get_ref(&self) -> &T {
        &self.io
    }

    /// Registers the task and arms the descriptor for every direction a
    /// task waits for; `Pending` until the reactor wakes it (a descriptor
    /// that is already ready is reported at the next `turn`).
    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: localsock_async::Interest,
    ) -> Poll<std::io::Result<()>> {
        let r = reactor();
        let mut state = r.state.lock().unwrap();
        let waiting = state.waiting.get_mut(&self.key).expect("registered");
        let slot = match interest {
            localsock_async::Interest::Readable => 0,
            localsock_async::Interest::Writable => 1,
        };
        waiting[slot] = Some(cx.waker().clone());
        let event = polling::Event::new(self.key, waiting[0].is_some(), waiting[1].is_some());
        match r.poller.modify(self.io.as_fd(), event) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn try_io<U>(
        &self,
        _interest: localsock_async::Interest,
        op: impl FnOnce(&T) -> std::io::Result<U>,
    ) -> std::io::Result<U> {
        op(&self.io)
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd> Drop for Source<T> {
    fn drop(&mut self) {
        let r = reactor();
        let _ = r.poller.delete(self.io.as_fd());
        r.state.lock().unwrap().waiting.remove(&self.key);
    }
}

/// Runs one future to completion on this thread, turning the reactor
/// while it waits.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
            // Wakes from another thread (Windows pipe completions) interrupt
            // the poller.
            let _ = reactor().poller.notify();
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if flag.0.swap(false, Ordering::AcqRel) {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        } else {
            reactor().turn().expect("the OS poller");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("localsock-custom-executor-{}", std::process::id());
    block_on(async {
        // Nothing by that name: Qt's ServerNotFoundError, from the core.
        let missing = LocalSocket::connect(&format!("{name}-missing")).await;
        assert_eq!(missing.unwrap_err().kind(), SocketError::ServerNotFound);

        let mut server = LocalServer::new();
        server.listen(&name)?;
        let serve = async {
            let mut peer = server.accept().await?;
            // The socket buffers its input (Qt's read buffer), so it reads
            // lines itself: no BufReader needed.
            loop {
                // futures-lite's read_line wants an empty String each time.
                let mut line = String::new();
                if peer.read_line(&mut line).await? == 0 {
                    break;
                }
                peer.write_all(line.to_uppercase().as_bytes()).await?;
            }
            // The client is done: Qt's graceful disconnect, waited for.
            peer.disconnect_from_server();
            if peer.state() != localsock_async::State::Unconnected {
                peer.wait_for_disconnected(Duration::from_secs(5)).await?;
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        };
        let client = async {
            let mut client = LocalSocket::connect(&name).await?;
            // An idle wait times out through this runtime's timer.
            let idle = client.wait_for_ready_read(Duration::from_millis(20)).await;
            assert_eq!(idle.unwrap_err().kind(), SocketError::SocketTimeout);
            client.write_all(b"hello\nfrom a custom executor\n").await?;
            let mut reply = String::new();
            for _ in 0..2 {
                let mut line = String::new();
                client.read_line(&mut line).await?;
                reply += &line;
            }
            // Flush, then half-close (on Unix; a graceful disconnect on
            // pipes): the server sees the end of its input.
            client.close().await?;
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await?;
            Ok::<_, Box<dyn std::error::Error>>(reply)
        };
        let (served, reply) = future::zip(serve, client).await;
        served?;
        let reply = reply?;
        print!("{reply}");
        assert_eq!(reply, "HELLO\nFROM A CUSTOM EXECUTOR\n");
        Ok(())
    })
}
