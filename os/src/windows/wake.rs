//! Waking a task when an event is signalled: a wait registered on the Win32
//! thread pool (`RegisterWaitForSingleObject`) whose callback wakes the
//! task's [`Waker`] itself.
//!
//! # Why not async-io's `Waitable`
//! async-io registers an event with its reactor through `polling`, which
//! re-arms the wait after every wake-up. On Windows `polling` (3.11) applies
//! a re-arm at once only if some thread is inside the poller at that moment,
//! and otherwise queues it for the next poll; it checks that flag *before*
//! queueing. A thread that enters the poller between the check and the push
//! drains an empty queue and blocks, and the queued re-arm is applied only
//! when something else wakes that thread. With two threads driving one
//! reactor (each in `block_on`) that happened about once in 25 runs of our
//! conformance suite under Wine: a request/response loop hung for good.
//! Registering the wait here has no such window: the registration is made
//! in the polling call itself, and its callback wakes the waker directly,
//! without a round trip through any reactor — so it also works under any
//! executor.
//!
//! # Protocol
//! At most one wait is registered at a time, `WT_EXECUTEONLYONCE`. A poll
//! first stores the task's waker, then re-arms only if the last wait has
//! fired; the callback marks the wait fired, then takes and wakes the
//! waker. Whatever the interleaving, a wait that fires after a poll stored
//! its waker wakes that waker, and a poll that sees the wait fired arms a
//! new one (on an event that is already signalled, it fires at once).
//!
//! # Memory
//! Each registration owns one reference to the shared state (passed as the
//! callback's context), which the callback releases when it runs. A wait
//! cancelled before it ran (`UnregisterWaitEx` succeeds and it never fired)
//! has its reference released by the canceller instead; a callback that is
//! still queued or running (`ERROR_IO_PENDING`) releases its own. The
//! event handle lives in the shared state, so it stays open while a wait
//! or a callback may still use it.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, OwnedHandle};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Threading::{
    RegisterWaitForSingleObject, UnregisterWaitEx, INFINITE, WT_EXECUTEONLYONCE,
};

/// Wakes the task that last polled it once an event (typically a
/// manual-reset completion event of a [`PipeStream`](super::PipeStream) or
/// [`PipeListener`](super::PipeListener)) is signalled.
///
/// Level-triggered, as the events are: polling while the event is signalled
/// wakes the task at once. The caller checks its condition (tries the
/// operation) before polling, and again after each wake-up.
pub struct EventWaker {
    shared: Arc<Shared>,
}

struct Shared {
    /// A duplicate of the event, open as long as a wait may use it.
    event: OwnedHandle,
    /// Set by the callback when the registered wait fired.
    fired: AtomicBool,
    state: Mutex<State>,
}

struct State {
    /// The task to wake.
    waker: Option<Waker>,
    /// The registered wait (a `HANDLE` as an address, so the state is
    /// `Send`); 0 when none is.
    wait: usize,
}

impl EventWaker {
    /// Prepares to wait on `event` (duplicated: the caller keeps its own
    /// handle). Registers nothing yet.
    pub fn new(event: BorrowedHandle<'_>) -> io::Result<EventWaker> {
        Ok(EventWaker {
            shared: Arc::new(Shared {
                event: event.try_clone_to_owned()?,
                fired: AtomicBool::new(false),
                state: Mutex::new(State {
                    waker: None,
                    wait: 0,
                }),
            }),
        })
    }

    /// Registers `cx`'s waker to be woken when the event is (or already
    /// is) signalled. Always `Pending` unless registering fails: the
    /// caller learns that the event fired from being woken, and re-checks
    /// its operation.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        // The waker first: a callback from here on wakes this task.
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        if state.wait != 0 && !self.shared.fired.load(Ordering::SeqCst) {
            // Still armed: it will fire, and find the waker.
            return Poll::Pending;
        }
        if state.wait != 0 {
            // Fired: its callback releases its own reference. Unregistering
            // only frees the wait object (not waiting for the callback,
            // which may be blocked on our lock).
            // SAFETY: `wait` is a registration of ours, unregistered once.
            unsafe { UnregisterWaitEx(state.wait as HANDLE, ptr::null_mut()) };
            state.wait = 0;
        }
        match self.register(&mut state) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Registers a one-shot wait on the event, with one reference to the
    /// shared state as the callback's context.
    fn register(&self, state: &mut State) -> io::Result<()> {
        self.shared.fired.store(false, Ordering::SeqCst);
        let context = Arc::into_raw(Arc::clone(&self.shared));
        let mut wait: HANDLE = ptr::null_mut();
        // SAFETY: `wait` is a valid out-pointer; the event handle stays open
        // while the shared state lives, which the context reference keeps
        // alive until the callback ran or the wait was cancelled; `on_fired`
        // matches WAITORTIMERCALLBACK.
        let ok = unsafe {
            RegisterWaitForSingleObject(
                &mut wait,
                self.shared.event.as_raw_handle(),
                Some(on_fired),
                context.cast::<c_void>(),
                INFINITE,
                WT_EXECUTEONLYONCE,
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            // SAFETY: no wait was registered, so the reference made for it
            // is still ours.
            drop(unsafe { Arc::from_raw(context) });
            return Err(e);
        }
        state.wait = wait as usize;
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a waker panicked; the state is valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The thread pool's callback: the wait fired (it cannot time out, the
/// timeout is INFINITE). Takes the registration's reference.
unsafe extern "system" fn on_fired(context: *mut c_void, _timed_out: bool) {
    // SAFETY: `context` is the reference `register` made for this one-shot
    // registration; it runs at most once and nobody else releases it once
    // it has started (`UnregisterWaitEx` then reports ERROR_IO_PENDING).
    let shared = unsafe { Arc::from_raw(context.cast_const().cast::<Shared>()) };
    shared.fired.store(true, Ordering::SeqCst);
    let waker = shared.lock().waker.take();
    if let Some(w) = waker {
        w.wake();
    }
}

impl Drop for EventWaker {
    fn drop(&mut self) {
        let state = self.shared.lock();
        if state.wait == 0 {
            return;
        }
        // Non-blocking: never waits for a running callback.
        // SAFETY: `wait` is a registration of ours, unregistered once.
        let cancelled = unsafe { UnregisterWaitEx(state.wait as HANDLE, ptr::null_mut()) } != 0;
        // Success means no callback is queued or running: if the wait never
        // fired, its callback never ran and never will, so its reference is
        // ours to release. (A failure, ERROR_IO_PENDING, means the callback
        // runs or will run and releases it.)
        if cancelled && !self.shared.fired.load(Ordering::SeqCst) {
            drop(state);
            // SAFETY: the registration's reference (made by `into_raw` in
            // `register`, the same pointer as `as_ptr`) was never taken.
            drop(unsafe { Arc::from_raw(Arc::as_ptr(&self.shared)) });
        }
    }
}

impl std::fmt::Debug for EventWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWaker")
            .field("event", &self.shared.event)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::windows::io::AsHandle;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    use windows_sys::Win32::System::Threading::{ResetEvent, SetEvent};

    use crate::windows::new_event;

    /// Unparks a thread and counts wake-ups.
    struct Unpark {
        thread: Thread,
        woken: AtomicUsize,
    }

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.fetch_add(1, Ordering::SeqCst);
            self.thread.unpark();
        }
    }

    fn unpark_here() -> (Arc<Unpark>, Waker) {
        let u = Arc::new(Unpark {
            thread: thread::current(),
            woken: AtomicUsize::new(0),
        });
        (u.clone(), Waker::from(u))
    }

    /// Parks until `u` was woken more than `seen` times; false after 20 s.
    fn woken_after(u: &Unpark, seen: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while u.woken.load(Ordering::SeqCst) <= seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            thread::park_timeout(left);
        }
        true
    }

    fn set(e: &OwnedHandle) {
        // SAFETY: a valid event handle.
        unsafe { SetEvent(e.as_raw_handle()) };
    }

    fn reset(e: &OwnedHandle) {
        // SAFETY: a valid event handle.
        unsafe { ResetEvent(e.as_raw_handle()) };
    }

    #[test]
    fn wakes_on_signal_and_again_while_signalled() {
        let event = new_event().unwrap();
        let w = EventWaker::new(event.as_handle()).unwrap();
        let (u, waker) = unpark_here();
        let mut cx = Context::from_waker(&waker);
        assert!(w.poll_ready(&mut cx).is_pending());
        // Armed, not signalled: a second poll changes nothing.
        assert!(w.poll_ready(&mut cx).is_pending());
        assert_eq!(u.woken.load(Ordering::SeqCst), 0);
        set(&event);
        assert!(woken_after(&u, 0), "no wake-up after SetEvent");
        // Level-triggered: still signalled, so a new poll wakes again.
        let seen = u.woken.load(Ordering::SeqCst);
        assert!(w.poll_ready(&mut cx).is_pending());
        assert!(woken_after(&u, seen), "no wake-up while signalled");
        reset(&event);
    }

    #[test]
    fn the_latest_waker_is_woken() {
        let event = new_event().unwrap();
        let w = EventWaker::new(event.as_handle()).unwrap();
        let (first, waker1) = unpark_here();
        let (second, waker2) = unpark_here();
        assert!(w.poll_ready(&mut Context::from_waker(&waker1)).is_pending());
        assert!(w.poll_ready(&mut Context::from_waker(&waker2)).is_pending());
        set(&event);
        assert!(woken_after(&second, 0));
        assert_eq!(first.woken.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn dropping_while_armed_or_fired_is_clean() {
        for fire in [false, true] {
            let event = new_event().unwrap();
            let w = EventWaker::new(event.as_handle()).unwrap();
            let (u, waker) = unpark_here();
            assert!(w.poll_ready(&mut Context::from_waker(&waker)).is_pending());
            if fire {
                set(&event);
                assert!(woken_after(&u, 0));
            }
            let shared = Arc::downgrade(&w.shared);
            drop(w);
            // The registration's reference is released by the canceller (not
            // fired) or by the callback (fired), so the state goes away.
            let deadline = Instant::now() + Duration::from_secs(20);
            while shared.strong_count() > 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(shared.strong_count(), 0, "state leaked (fired: {fire})");
        }
    }

    /// Two threads hand a token back and forth through two events, each
    /// waiting with an `EventWaker` between its check and its sleep — the
    /// pattern whose lost wake-up hung the smol runtime on async-io's
    /// `Waitable`. A lost wake-up here leaves both threads parked: the test
    /// fails on its 20 s deadline instead of passing.
    #[test]
    fn ping_pong_loses_no_wake_up() {
        const ROUNDS: usize = 2_000;
        let events = [
            Arc::new(new_event().unwrap()),
            Arc::new(new_event().unwrap()),
        ];
        let side = |me: usize| {
            let mine = events[me].clone();
            let theirs = events[1 - me].clone();
            move || {
                let w = EventWaker::new(mine.as_handle()).unwrap();
                let (u, waker) = unpark_here();
                let mut cx = Context::from_waker(&waker);
                for round in 0..ROUNDS {
                    if me == 1 || round > 0 {
                        // Wait for the token: check, register, sleep.
                        let deadline = Instant::now() + Duration::from_secs(20);
                        // SAFETY: a valid event handle.
                        while unsafe {
                            windows_sys::Win32::System::Threading::WaitForSingleObject(
                                mine.as_raw_handle(),
                                0,
                            )
                        } != 0
                        {
                            let seen = u.woken.load(Ordering::SeqCst);
                            assert!(w.poll_ready(&mut cx).is_pending());
                            assert!(
                                Instant::now() < deadline && woken_after(&u, seen),
                                "side {me} lost a wake-up in round {round}"
                            );
                        }
                        reset(&mine);
                    }
                    set(&theirs);
                }
            }
        };
        let a = thread::spawn(side(0));
        let b = thread::spawn(side(1));
        a.join().unwrap();
        b.join().unwrap();
    }
}
