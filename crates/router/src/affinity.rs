//! `Affinity`: the bounded sticky map from a conversation's affinity key to the provider
//! that last answered it.

use std::collections::{HashMap, VecDeque};

/// Bounded sticky map: affinity key to provider id, the oldest key forgotten first.
#[derive(Debug)]
pub(crate) struct Affinity {
    map: HashMap<String, String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Affinity {
    /// An empty map that remembers at most `capacity` keys (none with 0).
    pub(crate) fn new(capacity: usize) -> Affinity {
        Affinity {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The provider that last answered `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// `provider` answered `key`.
    pub(crate) fn set(&mut self, key: &str, provider: &str) {
        if self.capacity == 0 {
            return;
        }
        if let Some(v) = self.map.get_mut(key) {
            provider.clone_into(v);
            return;
        }
        if self.map.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key.to_owned());
        self.map.insert(key.to_owned(), provider.to_owned());
    }
}
