//! The pause after a failed accept, so accept loops that cannot report an
//! error (axum's `Listener::accept`) or that retry at once (a loop over
//! [`LocalServer::incoming`], such as tonic's `serve_with_incoming`) do not
//! spin while the process is out of descriptors (`EMFILE`).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::CoreTimer;
use crate::Runtime;
#[cfg(feature = "axum")]
use crate::{LocalServer, LocalSocket};

/// Failed accepts wait 50 ms, doubling up to 1 s while failures last (the
/// `localsock listen` command's schedule); a success starts over.
#[derive(Debug)]
pub(crate) struct AcceptBackoff<R: Runtime> {
    pause: Duration,
    until: Option<Instant>,
    timer: CoreTimer<R>,
}

impl<R: Runtime> AcceptBackoff<R> {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        AcceptBackoff {
            pause: Self::FIRST,
            until: None,
            timer: CoreTimer::new(),
        }
    }

    /// An accept failed: the next one waits out the pause.
    pub(crate) fn failed(&mut self) {
        self.until = Instant::now().checked_add(self.pause);
        self.pause = (self.pause * 2).min(Self::MAX);
    }

    /// An accept succeeded: the next failure pauses briefly again.
    pub(crate) fn succeeded(&mut self) {
        self.pause = Self::FIRST;
        self.until = None;
    }

    /// Ready once no pause is due.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(at) = self.until {
            std::task::ready!(self.timer.poll_at(cx, at));
            self.until = None;
        }
        Poll::Ready(())
    }
}

#[cfg(feature = "axum")]
impl<R: Runtime> LocalServer<R> {
    /// [`poll_accept`](Self::poll_accept) until a client comes: every
    /// failure (out of descriptors, not listening) pauses by `backoff`.
    pub(crate) fn poll_accept_retrying(
        &mut self,
        backoff: &mut AcceptBackoff<R>,
        cx: &mut Context<'_>,
    ) -> Poll<LocalSocket<R>> {
        loop {
            std::task::ready!(backoff.poll_wait(cx));
            match std::task::ready!(self.poll_accept(cx)) {
                Ok(socket) => {
                    backoff.succeeded();
                    return Poll::Ready(socket);
                }
                Err(_) => backoff.failed(),
            }
        }
    }
}
