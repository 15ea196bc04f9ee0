//! The queue of Qt signals waiting for delivery.
//!
//! Every connection queues a few signals (a connect and its close make
//! three to five); a heap allocation for them showed in connect-and-close
//! loops. The first [`INLINE`] wait inside the connection, the rest on the
//! heap. The connection bounds the length (`MAX_QUEUED_EVENTS`).

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use crate::event::Event;

/// How many events wait without an allocation.
const INLINE: usize = 4;

/// A FIFO of events: `inline[..len]` first, then `spill`. `spill` is only
/// used while `inline` is full, so the order is simply inline, then spill.
/// It is boxed on first use: every connection carries the field, few ever
/// queue more than [`INLINE`] events.
#[derive(Debug, Clone)]
pub(crate) struct EventQueue {
    inline: [Event; INLINE],
    len: u8,
    // Boxed for its size here (8 bytes, not 32), not for its contents.
    #[allow(clippy::box_collection)]
    spill: Option<Box<VecDeque<Event>>>,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            // Placeholders: only `inline[..len]` is ever read.
            inline: [Event::ReadyRead; INLINE],
            len: 0,
            spill: None,
        }
    }
}

impl EventQueue {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len) + self.spill.as_ref().map_or(0, |s| s.len())
    }

    #[inline]
    pub(crate) fn push_back(&mut self, e: Event) {
        let n = usize::from(self.len);
        if n < INLINE {
            self.inline[n] = e;
            self.len += 1;
        } else {
            self.spill(e);
        }
    }

    #[cold]
    fn spill(&mut self, e: Event) {
        self.spill.get_or_insert_with(Box::default).push_back(e);
    }

    pub(crate) fn pop_front(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let e = self.inline[0];
        self.remove_inline(0);
        Some(e)
    }

    /// Removes the event at `i` (`i < len()`).
    pub(crate) fn remove(&mut self, i: usize) {
        let n = usize::from(self.len);
        if i < n {
            self.remove_inline(i);
        } else if let Some(spill) = self.spill.as_mut() {
            spill.remove(i - n);
        }
    }

    /// Removes `inline[i]` and moves the oldest spilled event up, so
    /// `spill` stays empty while `inline` has room.
    fn remove_inline(&mut self, i: usize) {
        let n = usize::from(self.len);
        self.inline.copy_within(i + 1..n, i);
        self.len -= 1;
        if let Some(e) = self.spill.as_mut().and_then(|s| s.pop_front()) {
            self.inline[n - 1] = e;
            self.len += 1;
        }
    }

    pub(crate) fn back(&self) -> Option<&Event> {
        self.spill
            .as_ref()
            .and_then(|s| s.back())
            .or_else(|| self.inline[..usize::from(self.len)].last())
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
        if let Some(spill) = self.spill.as_mut() {
            spill.clear();
        }
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + '_ {
        self.inline[..usize::from(self.len)]
            .iter()
            .chain(self.spill.iter().flat_map(|s| s.iter()))
    }

    pub(crate) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Event> + '_ {
        self.inline[..usize::from(self.len)]
            .iter_mut()
            .chain(self.spill.iter_mut().flat_map(|s| s.iter_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Pop,
        Remove(usize),
        Clear,
        Bump(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..1000).prop_map(Op::Push),
            2 => Just(Op::Pop),
            1 => (0usize..16).prop_map(Op::Remove),
            1 => (0usize..16).prop_map(Op::Bump),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Against `VecDeque` as the model: the same contents, in the same
        /// order, after every operation.
        #[test]
        fn behaves_as_a_vecdeque(ops in proptest::collection::vec(op(), 0..64)) {
            let mut q = EventQueue::default();
            let mut model: VecDeque<Event> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(n) => {
                        q.push_back(Event::BytesWritten(n));
                        model.push_back(Event::BytesWritten(n));
                    }
                    Op::Pop => prop_assert_eq!(q.pop_front(), model.pop_front()),
                    Op::Remove(i) if i < model.len() => {
                        q.remove(i);
                        model.remove(i);
                    }
                    Op::Remove(_) => {}
                    Op::Bump(i) => {
                        if let Some(e) = q.iter_mut().rev().nth(i) {
                            *e = Event::ReadyRead;
                        }
                        if let Some(e) = model.iter_mut().rev().nth(i) {
                            *e = Event::ReadyRead;
                        }
                    }
                    Op::Clear => {
                        q.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.back(), model.back());
                prop_assert_eq!(
                    q.iter().copied().collect::<Vec<_>>(),
                    model.iter().copied().collect::<Vec<_>>()
                );
                prop_assert!(q.spill.as_ref().map_or(true, |s| s.is_empty()) || usize::from(q.len) == INLINE);
            }
        }
    }
}
