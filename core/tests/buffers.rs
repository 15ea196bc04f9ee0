//! The read buffer (limit, zero-copy hand-out, line and peek helpers), the
//! write queue (zero-copy, coalescing, partial sends) and the direct paths.

mod common;

use bytes::{BufMut, Bytes};
use common::*;
use localsock_core::buffer::{ReadBuffer, WriteQueue, COALESCE_MAX, READ_CHUNK};
use localsock_core::{DeviceError, Event, OpenMode, State, TRANSMIT_THRESHOLD};

// ----- read-buffer limit ------------------------------------------------------

#[test]
fn read_capacity_is_zero_at_the_limit() {
    let mut c = connected();
    c.set_read_buffer_size(10);
    assert_eq!(c.read_buffer_size(), 10);
    assert_eq!(c.read_capacity(), 10);
    assert_eq!(feed(&mut c, &pattern(0, 25)), 10);
    assert_eq!(c.bytes_available(), 10);
    assert_eq!(c.read_capacity(), 0);
    assert_eq!(c.recv_buf().remaining_mut(), 0);
}

#[test]
fn reading_resumes_when_the_user_reads() {
    let mut c = connected();
    c.set_read_buffer_size(10);
    let data = pattern(0, 25);
    let mut off = feed(&mut c, &data);
    let mut got = Vec::new();
    let mut buf = [0u8; 4];
    while got.len() < data.len() {
        let n = c.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        // Qt's rule: once the limit was reached, nothing more is read until
        // the buffer is empty.
        if c.bytes_available() > 0 && off < data.len() {
            assert_eq!(c.read_capacity(), 0);
        } else {
            assert_eq!(c.read_capacity(), 10 - c.bytes_available());
        }
        off += feed(&mut c, &data[off..]);
        assert!(c.bytes_available() <= 10);
    }
    assert_eq!(got, data);
}

#[test]
fn below_the_limit_reading_goes_on() {
    let mut c = connected();
    c.set_read_buffer_size(10);
    feed(&mut c, b"abc");
    assert_eq!(c.read_capacity(), 7, "the limit was never reached");
}

#[test]
fn a_ready_read_wait_reads_whenever_there_is_room() {
    let mut c = connected();
    c.set_read_buffer_size(4);
    assert_eq!(feed(&mut c, b"0123456789"), 4);
    let mut two = [0u8; 2];
    c.read(&mut two).unwrap();
    assert_eq!(c.read_capacity(), 0, "paused until drained");
    let wait = c.begin_wait(localsock_core::WaitFor::ReadyRead);
    assert_eq!(
        c.read_capacity(),
        2,
        "Qt's waitForReadyRead reads into the room"
    );
    assert_eq!(feed(&mut c, b"45"), 2);
    assert_eq!(c.wait_outcome(&wait), Some(Ok(())));
}

#[test]
fn recv_buf_never_offers_more_than_the_limit_allows() {
    let mut c = connected();
    c.set_read_buffer_size(7);
    feed(&mut c, b"abc");
    assert_eq!(c.recv_buf().remaining_mut(), 4);
}

#[test]
fn raising_the_limit_while_full_resumes_reading() {
    let mut c = connected();
    c.set_read_buffer_size(8);
    feed(&mut c, &[1u8; 20]);
    assert_eq!(c.read_capacity(), 0);
    c.set_read_buffer_size(12);
    assert_eq!(c.read_capacity(), 4);
    c.set_read_buffer_size(0);
    assert!(c.read_capacity() > 0, "0 means unlimited");
}

#[test]
fn lowering_the_limit_below_the_buffered_amount_stops_reading() {
    let mut c = connected();
    feed(&mut c, &[1u8; 20]);
    c.set_read_buffer_size(5);
    assert_eq!(c.read_capacity(), 0);
    assert_eq!(feed(&mut c, &[2u8; 3]), 0);
    assert_eq!(c.bytes_available(), 20, "nothing is dropped");
    c.skip(16).unwrap();
    assert_eq!(c.read_capacity(), 1);
}

#[test]
fn an_overfilled_recv_buf_is_refused_by_its_limit() {
    let mut c = connected();
    c.set_read_buffer_size(4);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.recv_buf().put_slice(&[0u8; 5]);
    }));
    assert!(result.is_err(), "the Limit wrapper must refuse a 5th byte");
}

#[test]
fn unlimited_reads_are_offered_in_growing_chunks() {
    let mut c = connected();
    let first = c.read_capacity();
    assert!(first > 0);
    feed(&mut c, &vec![0u8; first]);
    assert!(c.read_capacity() >= first);
    for _ in 0..20 {
        let cap = c.read_capacity();
        feed(&mut c, &vec![0u8; cap]);
        c.skip(usize::MAX).unwrap();
    }
    assert!(c.read_capacity() >= READ_CHUNK);
}

#[test]
fn no_reads_unless_connected() {
    let mut c = connected();
    c.write(&b"x"[..]).unwrap();
    c.disconnect_from_server(T0);
    assert_eq!(c.read_capacity(), 0);
    c.abort();
    assert_eq!(c.read_capacity(), 0);
    assert_eq!(c.recv_buf().remaining_mut(), 0);
}

#[test]
fn handle_received_without_bytes_changes_nothing() {
    let mut c = connected();
    c.handle_received(5);
    assert_eq!(c.bytes_available(), 0);
    assert!(events(&mut c).is_empty());
}

#[test]
fn handle_received_counts_what_was_put_not_what_was_claimed() {
    let mut c = connected();
    c.recv_buf().put_slice(b"abc");
    c.handle_received(100);
    assert_eq!(c.bytes_available(), 3);
    assert_eq!(c.buffered(), b"abc");
}

// ----- zero-copy reads ----------------------------------------------------------

#[test]
fn read_bytes_hands_out_the_buffer_without_copying() {
    let mut c = connected();
    feed(&mut c, &pattern(0, 100));
    let base = c.buffered().as_ptr();
    let first = c.read_bytes(40).unwrap();
    assert_eq!(first.as_ptr(), base, "same memory as the read buffer");
    assert_eq!(&first[..], &pattern(0, 40)[..]);
    assert_eq!(c.buffered().as_ptr(), base.wrapping_add(40));
    let rest = c.read_all().unwrap();
    assert_eq!(rest.as_ptr(), base.wrapping_add(40));
    assert_eq!(&rest[..], &pattern(40, 60)[..]);
    assert!(c.read_bytes(10).unwrap().is_empty());
}

#[test]
fn read_line_returns_whole_lines_then_the_rest() {
    let mut c = connected();
    feed(&mut c, b"ab\ncd\nef");
    assert!(c.can_read_line());
    assert_eq!(&c.read_line(0).unwrap()[..], b"ab\n");
    assert_eq!(&c.read_line(0).unwrap()[..], b"cd\n");
    assert!(!c.can_read_line());
    assert_eq!(
        &c.read_line(0).unwrap()[..],
        b"ef",
        "no newline: everything"
    );
    assert!(c.read_line(0).unwrap().is_empty());
}

#[test]
fn read_line_stops_at_max() {
    let mut c = connected();
    feed(&mut c, b"abcdef\nx");
    assert_eq!(&c.read_line(2).unwrap()[..], b"ab");
    assert_eq!(&c.read_line(5).unwrap()[..], b"cdef\n");
    assert_eq!(&c.read_line(100).unwrap()[..], b"x");
}

#[test]
fn peek_does_not_consume() {
    let mut c = connected();
    feed(&mut c, b"peekaboo");
    let mut buf = [0u8; 4];
    assert_eq!(c.peek(&mut buf), Ok(4));
    assert_eq!(&buf, b"peek");
    assert_eq!(c.bytes_available(), 8);
    let mut big = [0u8; 20];
    assert_eq!(c.peek(&mut big), Ok(8));
    assert_eq!(c.read(&mut buf), Ok(4));
    assert_eq!(&buf, b"peek");
}

#[test]
fn skip_past_the_end_returns_what_was_available() {
    let mut c = connected();
    feed(&mut c, &pattern(0, 20));
    assert_eq!(c.skip(5), Ok(5));
    peer_closes(&mut c);
    assert_eq!(c.skip(100), Ok(15), "skip works after disconnect");
    assert_eq!(c.skip(1), Ok(0));
}

#[test]
fn at_end_is_true_when_empty_or_closed() {
    let mut c = connected();
    assert!(c.at_end());
    feed(&mut c, b"x");
    assert!(!c.at_end());
    c.close(T0);
    assert!(c.at_end());
}

#[test]
fn reads_after_close_are_not_open() {
    let mut c = connected();
    feed(&mut c, b"x");
    c.close(T0);
    assert_eq!(c.read_all(), Err(DeviceError::NotOpen));
    assert!(!c.can_read_line());
}

// ----- write queue --------------------------------------------------------------

#[test]
fn large_owned_write_is_queued_without_copying() {
    let mut c = connected();
    let data = Bytes::from(pattern(0, 64 * 1024));
    let ptr = data.as_ptr();
    assert_eq!(c.write(data.clone()), Ok(64 * 1024));
    let chunks: Vec<&[u8]> = c.transmit_chunks().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0].as_ptr(),
        ptr,
        "the queued chunk is the caller's memory"
    );
    assert_eq!(chunks[0], &data[..]);
}

#[test]
fn write_at_the_coalescing_limit_is_not_copied() {
    let mut c = connected();
    let data = Bytes::from(vec![9u8; COALESCE_MAX]);
    let ptr = data.as_ptr();
    c.write(data).unwrap();
    assert_eq!(c.transmit_chunks().next().unwrap().as_ptr(), ptr);
}

#[test]
fn small_writes_coalesce_into_one_chunk() {
    let mut c = connected();
    let mut expect = Vec::new();
    for i in 0..1000 {
        let piece = pattern(i, 10);
        expect.extend_from_slice(&piece);
        if i % 2 == 0 {
            c.write(piece).unwrap();
        } else {
            c.write_slice(&piece).unwrap();
        }
    }
    assert_eq!(c.transmit_chunks().count(), 1);
    assert_eq!(c.bytes_to_write(), 10_000);
    assert_eq!(pending_output(&c), expect);
}

#[test]
fn mixed_writes_keep_their_order() {
    let mut c = connected();
    let small1 = pattern(0, 100);
    let big = Bytes::from(pattern(100, 40_000));
    let small2 = pattern(40_100, 50);
    c.write(small1.clone()).unwrap();
    c.write(big.clone()).unwrap();
    c.write_slice(&small2).unwrap();
    c.write(Bytes::new()).unwrap();
    let chunks: Vec<&[u8]> = c.transmit_chunks().collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1].as_ptr(), big.as_ptr());
    assert_eq!(pending_output(&c), pattern(0, 40_150));
}

#[test]
fn empty_write_queues_nothing() {
    let mut c = connected();
    assert_eq!(c.write(Bytes::new()), Ok(0));
    assert_eq!(c.write_slice(b""), Ok(0));
    assert!(!c.wants_write());
    assert_eq!(c.transmit_chunks().count(), 0);
}

fn mixed_queue() -> (localsock_core::Connection, Vec<u8>) {
    let mut c = connected();
    c.write(pattern(0, 30)).unwrap();
    c.write(Bytes::from(pattern(30, COALESCE_MAX + 5))).unwrap();
    c.write_slice(&pattern(COALESCE_MAX + 35, 20)).unwrap();
    c.write(Bytes::from(pattern(COALESCE_MAX + 55, COALESCE_MAX)))
        .unwrap();
    let all = pending_output(&c);
    assert_eq!(all, pattern(0, 2 * COALESCE_MAX + 55));
    (c, all)
}

#[test]
fn partial_handle_sent_at_every_offset_leaves_the_rest_in_order() {
    let (_, all) = mixed_queue();
    for k in (0..=all.len())
        .step_by(7)
        .chain([1, all.len() - 1, all.len()])
    {
        let (mut c, _) = mixed_queue();
        c.handle_sent(k);
        assert_eq!(c.bytes_to_write(), all.len() - k, "offset {k}");
        assert_eq!(pending_output(&c), &all[k..], "offset {k}");
        let evs = events(&mut c);
        if k == 0 {
            assert!(evs.is_empty());
        } else {
            assert_eq!(evs, [Event::BytesWritten(k)]);
        }
    }
}

#[test]
fn boundaries_of_chunks_are_handled_exactly() {
    let (_, all) = mixed_queue();
    let (mut c, _) = mixed_queue();
    let bounds: Vec<usize> = c.transmit_chunks().map(<[u8]>::len).collect();
    let mut off = 0;
    for b in bounds {
        c.handle_sent(b);
        off += b;
        assert_eq!(pending_output(&c), &all[off..]);
    }
    assert!(!c.wants_write());
}

#[test]
fn one_byte_sends_drain_everything() {
    let (mut c, all) = mixed_queue();
    let mut sent = Vec::new();
    while c.wants_write() {
        sent.push(c.transmit_chunks().next().unwrap()[0]);
        c.handle_sent(1);
    }
    assert_eq!(sent, all);
}

#[test]
fn handle_sent_beyond_the_queue_counts_only_the_queue() {
    let mut c = connected();
    c.write(&b"abc"[..]).unwrap();
    c.handle_sent(10);
    assert_eq!(events(&mut c), [Event::BytesWritten(3)]);
    assert_eq!(c.bytes_to_write(), 0);
}

#[test]
fn writes_coalesce_after_a_partial_send() {
    let mut c = connected();
    c.write_slice(b"hello ").unwrap();
    c.handle_sent(3);
    c.write_slice(b"world").unwrap();
    assert_eq!(pending_output(&c), b"lo world");
}

#[test]
fn transmit_now_once_the_threshold_is_queued() {
    let mut c = connected();
    c.write(vec![0u8; TRANSMIT_THRESHOLD - 1]).unwrap();
    assert!(c.wants_write());
    assert!(!c.wants_transmit_now());
    c.write_slice(b"x").unwrap();
    assert!(c.wants_transmit_now());
}

// ----- direct paths ---------------------------------------------------------------

#[test]
fn direct_read_is_allowed_only_with_an_empty_buffer() {
    let mut c = connected();
    assert!(c.can_read_direct(100));
    assert!(!c.can_read_direct(0));
    feed(&mut c, b"x");
    assert!(!c.can_read_direct(100), "buffered bytes must come first");
    c.skip(1).unwrap();
    assert!(c.can_read_direct(100));
    let _ = events(&mut c);
    c.handle_received_direct(100);
    assert!(
        events(&mut c).is_empty(),
        "no ReadyRead: the user has the data"
    );
    assert_eq!(c.bytes_available(), 0);
}

#[test]
fn direct_read_is_refused_when_write_only_or_not_connected() {
    let c = connected_mode(OpenMode::WriteOnly);
    assert!(!c.can_read_direct(10));
    let mut c = connected();
    peer_closes(&mut c);
    assert!(!c.can_read_direct(10));
}

#[test]
fn direct_read_of_zero_is_a_half_close() {
    let mut c = connected();
    c.handle_received_direct(0);
    assert_eq!(events(&mut c), [Event::ReadChannelFinished]);
    assert_eq!(c.state(), State::Connected);
    assert!(c.wants_hangup_watch());
    assert_eq!(c.read_outcome_when_empty(), Some(Ok(())));
}

#[test]
fn direct_read_of_zero_after_a_hangup_is_the_end() {
    let mut c = connected();
    c.handle_hangup();
    c.handle_received_direct(0);
    let evs = events(&mut c);
    assert_eq!(
        evs.first(),
        Some(&Event::Error(localsock_core::SocketError::PeerClosed))
    );
    assert!(disconnected_once(&evs));
    assert_eq!(c.state(), State::Unconnected);
}

#[test]
fn direct_write_needs_a_large_write_and_an_empty_queue() {
    let mut c = connected();
    assert!(c.can_write_direct(TRANSMIT_THRESHOLD));
    assert!(!c.can_write_direct(TRANSMIT_THRESHOLD - 1));
    c.write_slice(b"queued first").unwrap();
    assert!(
        !c.can_write_direct(TRANSMIT_THRESHOLD),
        "order must be kept"
    );
    send_all(&mut c);
    let _ = events(&mut c);
    assert!(c.can_write_direct(TRANSMIT_THRESHOLD));
    c.handle_sent_direct(TRANSMIT_THRESHOLD, TRANSMIT_THRESHOLD);
    assert_eq!(events(&mut c), [Event::BytesWritten(TRANSMIT_THRESHOLD)]);
    c.handle_sent_direct(0, TRANSMIT_THRESHOLD);
    assert!(events(&mut c).is_empty());
}

/// The rest of a partial direct write may go direct too, whatever its
/// size: nothing could coalesce with it. Once. A queued write, or a direct
/// write the OS took whole, ends that.
#[test]
fn the_rest_of_a_partial_direct_write_may_go_direct() {
    let mut c = connected();
    let small = 100;
    assert!(!c.can_write_direct(small));
    c.handle_sent_direct(TRANSMIT_THRESHOLD / 2, TRANSMIT_THRESHOLD);
    assert!(c.can_write_direct(small), "the rest of a partial write");
    c.handle_sent_direct(small, small);
    assert!(
        !c.can_write_direct(small),
        "taken whole: small writes queue again"
    );
    c.handle_sent_direct(1, TRANSMIT_THRESHOLD);
    c.write_slice(b"queued").unwrap();
    assert!(!c.can_write_direct(small), "a queued write ends it");
    send_all(&mut c);
    assert!(!c.can_write_direct(small));
}

#[test]
fn direct_write_is_refused_read_only_closing_or_unconnected() {
    let c = connected_mode(OpenMode::ReadOnly);
    assert!(!c.can_write_direct(TRANSMIT_THRESHOLD));
    let mut c = connected();
    c.write_slice(b"x").unwrap();
    c.disconnect_from_server(T0);
    send_all(&mut c);
    assert!(!c.can_write_direct(TRANSMIT_THRESHOLD));
    let _ = events(&mut c);
    c.handle_sent_direct(10, 10);
    assert!(
        events(&mut c).is_empty(),
        "no BytesWritten once unconnected"
    );
}

// ----- the buffer types on their own ------------------------------------------------

#[test]
fn read_buffer_take_added_counts_only_new_bytes() {
    let mut r = ReadBuffer::default();
    r.spare(8).put_slice(b"abcd");
    assert_eq!(r.take_added(), 4);
    assert_eq!(r.take_added(), 0);
    r.spare(8).put_slice(b"ef");
    assert_eq!(r.take_added(), 2);
    assert_eq!(r.as_slice(), b"abcdef");
    assert_eq!(r.split_to(3).as_ref(), b"abc");
    assert_eq!(r.take_added(), 0, "consuming is not adding");
    r.clear();
    assert!(r.is_empty());
}

#[test]
fn write_queue_len_tracks_pushes_and_consumes() {
    let mut q = WriteQueue::default();
    q.push(Bytes::from_static(b"abc"));
    q.push_slice(b"de");
    q.push(Bytes::from(vec![1u8; COALESCE_MAX]));
    assert_eq!(q.len(), 5 + COALESCE_MAX);
    assert_eq!(q.consume(4), 4);
    assert_eq!(q.len(), 1 + COALESCE_MAX);
    assert_eq!(q.consume(usize::MAX), 1 + COALESCE_MAX);
    assert!(q.is_empty());
    assert_eq!(q.chunks().count(), 0);
    assert_eq!(q.consume(1), 0);
}
