//! `Affinity`: the bounded sticky map from a conversation's affinity key to the provider
//! that last answered it.

use std::collections::{BTreeMap, HashMap};

/// Bounded sticky map: affinity key to provider id. When full, the key used least recently
/// (looked up or answered) is forgotten, so a busy conversation keeps its provider however
/// old it is.
#[derive(Debug)]
pub(crate) struct Affinity {
    /// Key to (provider id, the tick of its last use).
    map: HashMap<String, (String, u64)>,
    /// Tick of last use to key; the first entry is the least recently used.
    by_use: BTreeMap<u64, String>,
    tick: u64,
    capacity: usize,
}

impl Affinity {
    /// An empty map that remembers at most `capacity` keys (none with 0).
    pub(crate) fn new(capacity: usize) -> Affinity {
        Affinity {
            map: HashMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
            capacity,
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// The provider that last answered `key`; the lookup counts as a use.
    pub(crate) fn get(&mut self, key: &str) -> Option<&str> {
        let tick = self.next_tick();
        let (provider, used) = self.map.get_mut(key)?;
        if let Some(k) = self.by_use.remove(used) {
            self.by_use.insert(tick, k);
        }
        *used = tick;
        Some(provider.as_str())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }

    /// `provider` answered `key`.
    pub(crate) fn set(&mut self, key: &str, provider: &str) {
        if self.capacity == 0 {
            return;
        }
        let tick = self.next_tick();
        if let Some((v, used)) = self.map.get_mut(key) {
            provider.clone_into(v);
            if let Some(k) = self.by_use.remove(used) {
                self.by_use.insert(tick, k);
            }
            *used = tick;
            return;
        }
        while self.map.len() >= self.capacity {
            let Some((_, old)) = self.by_use.pop_first() else {
                break;
            };
            self.map.remove(&old);
        }
        self.by_use.insert(tick, key.to_owned());
        self.map.insert(key.to_owned(), (provider.to_owned(), tick));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_key_is_evicted() {
        let mut a = Affinity::new(2);
        a.set("busy", "p1");
        a.set("idle", "p2");
        // The busy conversation is used again (looked up and answered).
        assert_eq!(a.get("busy"), Some("p1"));
        a.set("busy", "p1");
        a.set("new", "p3");
        assert_eq!(a.get("busy"), Some("p1"), "used recently, so kept");
        assert_eq!(a.get("idle"), None, "least recently used, so evicted");
        assert_eq!(a.get("new"), Some("p3"));
        // A lookup alone counts as a use too.
        assert_eq!(a.get("busy"), Some("p1"));
        a.set("newer", "p4");
        assert_eq!(a.get("new"), None);
        assert_eq!(a.get("busy"), Some("p1"));
    }

    #[test]
    fn capacity_bounds_the_map() {
        let mut a = Affinity::new(3);
        for i in 0..100 {
            a.set(&format!("k{i}"), "p");
            assert!(a.len() <= 3);
        }
        let mut none = Affinity::new(0);
        none.set("k", "p");
        assert_eq!(none.get("k"), None);
    }
}
