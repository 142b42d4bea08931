//! The DHT's local store, bounded against strangers.
//!
//! libp2p-kad's `MemoryStore` keeps this node's own provider records and
//! everyone else's in one map under one limit: a peer sending a few
//! thousand ADD_PROVIDER messages for random keys fills it, after which this
//! node cannot announce its own specialists. [`BoundedStore`] keeps the two
//! apart — this node's own records can never be crowded out — and caps what
//! others may put here: keys per provider, providers per key, records in
//! all. Value records (PUT_VALUE) are refused: Chorus uses only provider
//! records.
//!
//! A key's list of providers is neither first come, first kept (libp2p's
//! rule: strangers that announce a key before its honest providers would
//! hold its list for good) nor open to whoever announces last: its older
//! half keeps the records held longest, which no flood displaces, and a
//! newcomer to a full list takes the place of a random record of the newer
//! half, so that no announcer, however early or prolific, shuts the
//! providers after it out.

use std::borrow::Cow;
use std::collections::HashMap;

use libp2p::PeerId;
use libp2p::kad::store::{Error, MemoryStore, MemoryStoreConfig, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};

/// Keys this node itself may provide.
pub const MAX_OWN_KEYS: usize = 1_024;
/// Keys one other peer may be recorded as providing here.
pub const MAX_KEYS_PER_PROVIDER: usize = 64;
/// Providers recorded per key (Kademlia's replication factor). When a
/// key's list is full, a newcomer replaces a random record of its newer
/// half (see the module docs).
pub const MAX_PROVIDERS_PER_KEY: usize = 20;
/// The records of a full list that a newcomer never replaces: those held
/// longest.
const KEPT_PROVIDERS: usize = MAX_PROVIDERS_PER_KEY / 2;
/// Other peers' provider records in all.
pub const MAX_OTHER_RECORDS: usize = 8_192;

/// The bounded store (see the module docs).
pub(crate) struct BoundedStore {
    local: PeerId,
    own: MemoryStore,
    others: MemoryStore,
    /// Keys recorded per other provider.
    per_provider: HashMap<PeerId, usize>,
    /// Other peers' records held.
    other_records: usize,
    /// Chooses which record of a full list a newcomer replaces.
    random: u64,
}

impl BoundedStore {
    pub(crate) fn new(local: PeerId) -> Self {
        let own = MemoryStore::with_config(
            local,
            MemoryStoreConfig { max_provided_keys: MAX_OWN_KEYS, max_records: 0, ..MemoryStoreConfig::default() },
        );
        let others = MemoryStore::with_config(
            local,
            MemoryStoreConfig {
                max_provided_keys: MAX_OTHER_RECORDS,
                max_providers_per_key: MAX_PROVIDERS_PER_KEY,
                max_records: 0,
                ..MemoryStoreConfig::default()
            },
        );
        // Unpredictable to others: seeded from this process's hasher keys.
        let random = {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write(&local.to_bytes());
            hasher.finish() | 1
        };
        Self { local, own, others, per_provider: HashMap::new(), other_records: 0, random }
    }

    /// The next number of a xorshift generator (not for secrets).
    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// Makes room in `key`'s full list for a newcomer: removes a random
    /// record of the newer half.
    fn make_room(&mut self, key: &RecordKey) {
        let held = self.others.providers(key);
        if held.len() < MAX_PROVIDERS_PER_KEY {
            return;
        }
        let newer = held.len() - KEPT_PROVIDERS;
        #[allow(clippy::cast_possible_truncation)] // below 20
        let victim = KEPT_PROVIDERS + (self.next_random() % newer as u64) as usize;
        let provider = held[victim].provider;
        self.remove_provider(key, &provider);
    }

    /// Other peers' provider records held now.
    pub(crate) fn other_records(&self) -> usize {
        self.other_records
    }

    fn holds(&self, key: &RecordKey, provider: &PeerId) -> bool {
        self.others.providers(key).iter().any(|record| &record.provider == provider)
    }
}

impl RecordStore for BoundedStore {
    type RecordsIter<'a> = std::iter::Empty<Cow<'a, Record>>;
    type ProvidedIter<'a> = <MemoryStore as RecordStore>::ProvidedIter<'a>;

    fn get(&self, _key: &RecordKey) -> Option<Cow<'_, Record>> {
        None
    }

    /// Refused: Chorus stores no values in the DHT.
    fn put(&mut self, _record: Record) -> Result<()> {
        Err(Error::MaxRecords)
    }

    fn remove(&mut self, _key: &RecordKey) {}

    fn records(&self) -> Self::RecordsIter<'_> {
        std::iter::empty()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> Result<()> {
        if record.provider == self.local {
            return self.own.add_provider(record);
        }
        if self.holds(&record.key, &record.provider) {
            return self.others.add_provider(record); // a refresh
        }
        let provider = record.provider;
        let held = self.per_provider.get(&provider).copied().unwrap_or(0);
        if held >= MAX_KEYS_PER_PROVIDER || self.other_records >= MAX_OTHER_RECORDS {
            return Err(Error::MaxProvidedKeys);
        }
        let key = record.key.clone();
        self.make_room(&key);
        self.others.add_provider(record)?;
        if self.holds(&key, &provider) {
            *self.per_provider.entry(provider).or_default() += 1;
            self.other_records += 1;
        }
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        let mut providers = self.own.providers(key);
        providers.extend(self.others.providers(key));
        providers
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.own.provided()
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        if provider == &self.local {
            return self.own.remove_provider(key, provider);
        }
        if !self.holds(key, provider) {
            return;
        }
        self.others.remove_provider(key, provider);
        self.other_records = self.other_records.saturating_sub(1);
        if let Some(held) = self.per_provider.get_mut(provider) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.per_provider.remove(provider);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> RecordKey {
        RecordKey::new(&format!("key-{n}"))
    }

    fn record(n: usize, provider: PeerId) -> ProviderRecord {
        ProviderRecord::new(key(n), provider, Vec::new())
    }

    #[test]
    fn a_flood_from_one_peer_is_capped_and_never_crowds_out_this_nodes_own_keys() {
        let local = PeerId::random();
        let mut store = BoundedStore::new(local);
        let flooder = PeerId::random();
        let accepted = (0..4_096).filter(|n| store.add_provider(record(*n, flooder)).is_ok()).count();
        assert_eq!(accepted, MAX_KEYS_PER_PROVIDER);
        assert_eq!(store.other_records(), MAX_KEYS_PER_PROVIDER);
        // Refreshing a record it holds is fine and counts once.
        assert!(store.add_provider(record(0, flooder)).is_ok());
        assert_eq!(store.other_records(), MAX_KEYS_PER_PROVIDER);
        // This node still provides what it serves.
        assert!(store.add_provider(record(10_000, local)).is_ok());
        assert_eq!(store.provided().count(), 1);
        assert_eq!(store.providers(&key(10_000)).len(), 1);
        // Removing a record frees the place.
        store.remove_provider(&key(0), &flooder);
        assert_eq!(store.other_records(), MAX_KEYS_PER_PROVIDER - 1);
        assert!(store.add_provider(record(5_000, flooder)).is_ok());
    }

    #[test]
    fn many_identities_fill_at_most_the_records_cap_and_a_key_lists_at_most_twenty() {
        let mut store = BoundedStore::new(PeerId::random());
        let mut next = 0;
        for _ in 0..(MAX_OTHER_RECORDS / MAX_KEYS_PER_PROVIDER + 10) {
            let sybil = PeerId::random();
            for _ in 0..MAX_KEYS_PER_PROVIDER {
                let _ = store.add_provider(record(next, sybil));
                next += 1;
            }
        }
        assert_eq!(store.other_records(), MAX_OTHER_RECORDS);
        let mut fresh = BoundedStore::new(PeerId::random());
        for _ in 0..30 {
            let _ = fresh.add_provider(record(7, PeerId::random()));
        }
        assert_eq!(fresh.providers(&key(7)).len(), MAX_PROVIDERS_PER_KEY);
        assert_eq!(fresh.other_records(), MAX_PROVIDERS_PER_KEY);
    }

    #[test]
    fn an_early_flood_neither_shuts_a_later_provider_out_nor_displaces_the_oldest_records() {
        let mut store = BoundedStore::new(PeerId::random());
        let first: Vec<PeerId> = (0..MAX_PROVIDERS_PER_KEY).map(|_| PeerId::random()).collect();
        for sybil in &first {
            store.add_provider(record(7, *sybil)).unwrap();
        }
        // An honest provider announcing after the list filled is listed.
        let honest = PeerId::random();
        store.add_provider(record(7, honest)).unwrap();
        assert!(store.holds(&key(7), &honest), "a full list shut a later provider out");
        assert_eq!(store.providers(&key(7)).len(), MAX_PROVIDERS_PER_KEY);
        assert_eq!(store.other_records(), MAX_PROVIDERS_PER_KEY);
        // A flood of 1,000 more identities never displaces the oldest half.
        for _ in 0..1_000 {
            store.add_provider(record(7, PeerId::random())).unwrap();
        }
        for kept in &first[..KEPT_PROVIDERS] {
            assert!(store.holds(&key(7), kept));
        }
        assert_eq!(store.providers(&key(7)).len(), MAX_PROVIDERS_PER_KEY);
        assert_eq!(store.other_records(), MAX_PROVIDERS_PER_KEY);
        assert!(store.per_provider.len() == MAX_PROVIDERS_PER_KEY, "a replaced provider is still counted");
    }

    #[test]
    fn value_records_are_refused() {
        let mut store = BoundedStore::new(PeerId::random());
        assert!(store.put(Record::new(key(1), b"anything".to_vec())).is_err());
        assert!(store.get(&key(1)).is_none());
        assert_eq!(store.records().count(), 0);
    }
}
