//! Who may connect, and who is on the other end: access options against
//! another user, the socket file's mode from its first instant, and peer
//! credentials of real peer processes.

#[cfg(unix)]
use localsock_core::Access;

use super::*;
use crate::harness::*;
use crate::*;

#[cfg(unix)]
fn with_access(access: Access) -> ServerOptions {
    ServerOptions {
        access,
        ..Default::default()
    }
}

/// Reads `len` bytes from `peer`, checks they are `payload(len, seed)`, and
/// answers with `payload(len, seed + 1)`: one request/reply proving both
/// directions carry data.
fn answer<S: TestSocket>(peer: &mut S, len: usize, seed: u64) {
    let mut got = vec![0u8; len];
    peer.io_read_exact(&mut got).expect("read the request");
    assert_eq!(checksum(&got), checksum(&payload(len, seed)), "request");
    peer.io_write_all(&payload(len, seed + 1))
        .expect("send the reply");
}

/// Parses `peer`/`self` lines: pid, uid, gid (`None` for `-`).
fn ids(words: &[String]) -> [Option<u32>; 3] {
    let p = |i: usize| words.get(i).and_then(|w| w.parse().ok());
    [p(0), p(1), p(2)]
}

/// UserAccessOption and GroupAccessOption keep another user out: a peer
/// running as `nobody` (not the owner, not in the owner's group) gets
/// `SocketAccess`, and the server never sees a connection.
#[cfg(unix)]
pub fn access_user_and_group_refuse_other_user<R: Reliability>(exe: &PeerExe) -> Result<(), Skip> {
    can_switch_users()?;
    let dir = TestDir::new("acc-deny");
    for (i, access) in [Access::USER, Access::GROUP].into_iter().enumerate() {
        let path = dir.join(&format!("srv{i}"));
        let mut server = R::server();
        server.listen_with(&path, with_access(access)).unwrap();
        let mut peer = exe.spawn_as_nobody(&dir, R::NAME, "client", &[&path, "1024", "1"]);
        let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
        assert_eq!(
            (key.as_str(), rest.first().map(String::as_str)),
            ("connect-error", Some("SocketAccess")),
            "{access:?}: another user must be refused\n{}",
            peer.transcript()
        );
        peer.wait_success();
        assert!(
            !server.wait_for_new_connection(Some(Duration::ZERO)),
            "{access:?}: no connection may reach the server"
        );
    }
    Ok(())
}

/// WorldAccessOption and OtherAccessOption let another user in, and the
/// connection works both ways (a request from `nobody` arrives intact, the
/// reply reaches it intact).
#[cfg(unix)]
pub fn access_world_and_other_let_other_user_read_and_write<R: Reliability>(
    exe: &PeerExe,
) -> Result<(), Skip> {
    can_switch_users()?;
    let dir = TestDir::new("acc-allow");
    let len = 256 * 1024;
    for (i, access) in [Access::WORLD, Access::OTHER].into_iter().enumerate() {
        let path = dir.join(&format!("srv{i}"));
        let mut server = R::server();
        server.listen_with(&path, with_access(access)).unwrap();
        let seed = 10 + i as u64;
        let mut peer = exe.spawn_as_nobody(
            &dir,
            R::NAME,
            "client",
            &[&path, &len.to_string(), &seed.to_string()],
        );
        let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
        assert_eq!(
            key,
            "connected",
            "{access:?}: {rest:?}\n{}",
            peer.transcript()
        );
        let mut s = server.accept_one();
        answer(&mut s, len, seed);
        let got: u64 = peer.expect("received")[0].parse().unwrap();
        assert_eq!(got, checksum(&payload(len, seed + 1)), "{access:?}: reply");
        peer.expect("done");
        peer.wait_success();
    }
    Ok(())
}

/// The access options never shut the owner out: for each option a client
/// of our own user connects and both directions carry data (the Windows
/// security descriptor included — a known failure of other libraries is a
/// DACL that lets clients connect but not write).
pub fn access_options_let_owner_read_and_write<R: Reliability>(_exe: &PeerExe) {
    use localsock_core::Access;
    for access in [Access::USER, Access::GROUP, Access::OTHER, Access::WORLD] {
        let name = unique_name("acc-own");
        let mut server = R::server();
        server
            .listen_with(
                &name,
                ServerOptions {
                    access,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(
            c.wait_for_connected(LONG),
            "{access:?}: {}",
            c.error_string()
        );
        let mut s = server.accept_one();
        let len = 128 * 1024;
        let t = spawn(move || {
            answer(&mut s, len, 3);
            s
        });
        c.io_write_all(&payload(len, 3)).unwrap();
        let mut back = vec![0u8; len];
        c.io_read_exact(&mut back).unwrap();
        assert_eq!(checksum(&back), checksum(&payload(len, 4)), "{access:?}");
        drop(t.join().unwrap());
    }
}

/// The socket file never exists with a mode other than the requested one:
/// an observer thread `lstat`s the target path in a tight loop while the
/// server listens, hundreds of times, and also scans the directory: the
/// only other entry that may ever appear is `listen`'s private directory,
/// which must be owner-only. Afterwards nothing but the socket is left,
/// and after close nothing at all.
///
/// Unix only: Windows pipes have no file or mode.
#[cfg(unix)]
pub fn socket_mode_is_never_wider_than_requested<R: Reliability>(_exe: &PeerExe) {
    use std::collections::BTreeSet;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};

    let dir = TestDir::new("mode");
    let me = rustix::process::geteuid().as_raw();
    let options = [Access::USER, Access::GROUP, Access::OTHER, Access::WORLD];
    let mut sightings = 0u64;
    for round in 0..400 {
        let access = options[round % options.len()];
        let want = access.unix_mode().unwrap();
        let path = dir.join(&format!("s{round}"));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(2));
        let observer = {
            let (path, stop, start) = (path.clone(), stop.clone(), start.clone());
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut seen = BTreeSet::new();
                let mut odd = BTreeSet::new();
                let mut n = 0u64;
                start.wait();
                let mut i = 0u32;
                loop {
                    let done = stop.load(Ordering::Acquire);
                    if let Ok(m) = std::fs::symlink_metadata(&path) {
                        seen.insert((m.file_type().is_socket(), m.mode() & 0o7777));
                        n += 1;
                    }
                    i = i.wrapping_add(1);
                    if i % 8 == 0 || done {
                        // Anything else in the directory: only the private
                        // bind directory, owner-only, owned by us.
                        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                            let p = e.path();
                            if p.to_str() == Some(path.as_str()) || e.file_name() == "lsk-peer" {
                                continue;
                            }
                            if let Ok(m) = std::fs::symlink_metadata(&p) {
                                let ok = m.is_dir() && m.mode() & 0o077 == 0 && m.uid() == me;
                                if !ok {
                                    odd.insert(format!("{p:?} mode {:o}", m.mode()));
                                }
                            }
                        }
                    }
                    if done {
                        return (seen, odd, n);
                    }
                }
            })
        };
        let mut server = R::server();
        start.wait();
        server.listen_with(&path, with_access(access)).unwrap();
        stop.store(true, Ordering::Release);
        let (seen, odd, n) = observer.join().unwrap();
        sightings += n;
        assert!(
            seen.iter().all(|&(sock, mode)| sock && mode == want),
            "{access:?}: the path was seen as {seen:?}, want a socket with mode {want:o}"
        );
        assert!(odd.is_empty(), "{access:?}: other entries seen: {odd:?}");
        let m = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(m.mode() & 0o7777, want);
        assert_eq!(
            dir.entries(),
            vec![format!("s{round}")],
            "nothing but the socket is left behind"
        );
        // The server works under the requested mode.
        let mut c = R::socket();
        c.connect_to_server(&path, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG), "{}", c.error_string());
        drop(server.accept_one());
        drop(server);
        assert!(dir.entries().is_empty(), "close removes the socket file");
    }
    // The observer must have raced the listens for real.
    assert!(sightings > 0, "the observer never saw a socket");

    // A failed listen (the name is taken) leaves no private directory.
    let path = dir.join("taken");
    let mut first = R::server();
    first.listen(&path).unwrap();
    for access in options {
        let mut second = R::server();
        let e = second.listen_with(&path, with_access(access)).unwrap_err();
        assert_eq!(e.kind(), ServerError::AddressInUse, "{access:?}");
        assert_eq!(dir.entries(), vec!["taken".to_string()], "{access:?}");
    }
}

/// The uid, gid and pid each side reports are those of the real peer
/// process (a separate `lsk-peer`, its pid from the OS), on every platform
/// that reports them.
pub fn peer_credentials_are_the_real_peer_process<R: Reliability>(exe: &PeerExe) {
    let name = unique_name("creds");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut peer = exe.spawn(R::NAME, "client", &[&name, "16", "5"]);
    let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
    assert_eq!(key, "connected", "{rest:?}\n{}", peer.transcript());
    let mut s = server.accept_one();
    let theirs = s.peer_credentials().expect("peer credentials");
    let [child_pid, child_uid, child_gid] = ids(&peer.expect("self"));
    let [seen_pid, seen_uid, seen_gid] = ids(&peer.expect("peer"));
    assert_eq!(child_pid, Some(peer.id()));
    if cfg!(any(target_os = "linux", target_os = "android", windows)) {
        assert_eq!(
            theirs.pid,
            Some(peer.id()),
            "the server sees the child's pid"
        );
    }
    if cfg!(any(target_os = "linux", target_os = "android")) {
        assert_eq!(seen_pid, Some(std::process::id()), "the child sees our pid");
    }
    if cfg!(unix) {
        assert_eq!(theirs.uid, child_uid);
        assert_eq!(theirs.gid, child_gid);
        #[cfg(unix)]
        {
            assert_eq!(seen_uid, Some(rustix::process::geteuid().as_raw()));
            assert_eq!(seen_gid, Some(rustix::process::getegid().as_raw()));
        }
    }
    let _ = (seen_uid, seen_gid);
    answer(&mut s, 16, 5);
    peer.expect("done");
    peer.wait_success();
}

/// A peer that dropped its privileges before connecting is seen as what it
/// became: uid and gid `nobody`, and its real pid.
#[cfg(unix)]
pub fn peer_credentials_after_privilege_drop<R: Reliability>(exe: &PeerExe) -> Result<(), Skip> {
    can_switch_users()?;
    let dir = TestDir::new("creds-nobody");
    let path = dir.join("srv");
    let mut server = R::server();
    server
        .listen_with(&path, with_access(Access::WORLD))
        .unwrap();
    let mut peer = exe.spawn_as_nobody(&dir, R::NAME, "client", &[&path, "16", "7"]);
    let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
    assert_eq!(key, "connected", "{rest:?}\n{}", peer.transcript());
    let mut s = server.accept_one();
    let theirs = s.peer_credentials().expect("peer credentials");
    assert_eq!(theirs.uid, Some(NOBODY));
    assert_eq!(theirs.gid, Some(NOBODY));
    if cfg!(any(target_os = "linux", target_os = "android")) {
        assert_eq!(theirs.pid, Some(peer.id()));
    }
    assert_eq!(
        ids(&peer.expect("self")),
        [Some(peer.id()), Some(NOBODY), Some(NOBODY)]
    );
    let [_, seen_uid, _] = ids(&peer.expect("peer"));
    assert_eq!(seen_uid, Some(rustix::process::geteuid().as_raw()));
    answer(&mut s, 16, 7);
    peer.expect("done");
    peer.wait_success();
    Ok(())
}

/// Every descriptor the library creates is close-on-exec: a child process
/// started while a server listens and a connection is open (both ends)
/// inherits no socket, so it can neither keep the name alive nor read or
/// write the connection.
///
/// Unix only: Windows handles are not inherited unless marked so.
#[cfg(unix)]
pub fn descriptors_not_inherited_by_children<R: Reliability>(exe: &PeerExe) {
    let name = unique_name("cloexec");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut c = R::socket();
    c.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(c.wait_for_connected(LONG), "{}", c.error_string());
    let s = server.accept_one();
    let mut peer = exe.spawn(R::NAME, "inherited-sockets", &[]);
    let got = peer.expect("inherited-sockets");
    peer.wait_success();
    assert_eq!(got[0], "0", "the child inherited sockets: {got:?}");
    drop((c, s));
}
