//! Standard input as a channel: a thread reads it and hands chunks over, so
//! every runtime can wait for stdin and the socket at the same time. The
//! channel closes at end of input (or on a read error).

use std::io::Read;

use smol::channel::{bounded, Receiver};

/// How much one read of stdin takes at most.
const CHUNK: usize = 64 * 1024;

/// Starts the reader thread. A bounded channel holds stdin back when the
/// socket is slower than its input.
pub(crate) fn spawn_reader() -> Receiver<Vec<u8>> {
    let (tx, rx) = bounded::<Vec<u8>>(4);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0u8; CHUNK];
                match stdin.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send_blocking(buf).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        });
    // Without a thread, stdin reads as empty: the channel is closed.
    drop(spawned);
    rx
}
