//! The executors the async runtimes run on: one smol thread, or a tokio
//! runtime of either flavour, behind one small trait so the commands and
//! the benchmark can be written once for both.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future to wait for a spawned task.
pub type Join<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An executor layout: one smol thread, tokio current-thread, tokio
/// multi-thread.
pub trait Exec {
    /// Runs `f` to completion on this executor.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Spawns a task; the returned future yields its output.
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Join<T>;
    /// Spawns a task nobody waits for.
    fn detach(&self, f: impl Future<Output = ()> + Send + 'static);
    /// Sleeps on this executor's timer.
    fn sleep(&self, d: Duration) -> Join<()>;
}

/// `smol::LocalExecutor` driven by `smol::block_on` on the calling thread.
#[derive(Debug, Default)]
pub struct SmolExec {
    ex: smol::LocalExecutor<'static>,
}

impl SmolExec {
    /// A new executor (infallible; a `Result` to match tokio's).
    pub fn new() -> io::Result<Self> {
        Ok(SmolExec::default())
    }
}

impl Exec for SmolExec {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        smol::block_on(self.ex.run(f))
    }
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Join<T> {
        Box::pin(self.ex.spawn(f))
    }
    fn detach(&self, f: impl Future<Output = ()> + Send + 'static) {
        self.ex.spawn(f).detach();
    }
    fn sleep(&self, d: Duration) -> Join<()> {
        Box::pin(async move {
            smol::Timer::after(d).await;
        })
    }
}

/// A tokio runtime of either flavour.
#[derive(Debug)]
pub struct TokioExec {
    rt: tokio::runtime::Runtime,
}

impl TokioExec {
    /// A current-thread runtime.
    pub fn current_thread() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(TokioExec { rt })
    }

    /// A multi-thread runtime with tokio's default worker count.
    pub fn multi_thread() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(TokioExec { rt })
    }
}

impl Exec for TokioExec {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Join<T> {
        let handle = self.rt.spawn(f);
        Box::pin(async move {
            match handle.await {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })
    }
    fn detach(&self, f: impl Future<Output = ()> + Send + 'static) {
        drop(self.rt.spawn(f));
    }
    fn sleep(&self, d: Duration) -> Join<()> {
        Box::pin(tokio::time::sleep(d))
    }
}
