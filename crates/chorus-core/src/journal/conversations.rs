//! Conversations: queries that continue one another. A conversation is
//! named by its first query's id; each later query's header keeps that id
//! (`Store::begin_query_in`). Deleting a conversation deletes its queries.

use serde::{Deserialize, Serialize};

use super::queries::decode_query_entry;
use super::{QueryId, QueryRecord, QueryStatus, QuerySummary, Store, StoreError};

/// A conversation as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationSummary {
    /// Its id: the id of its first query.
    pub id: QueryId,
    /// Its first question still in the journal.
    pub title: String,
    /// How many of its queries the journal holds.
    pub turns: usize,
    /// Its last query.
    pub last: QueryId,
    /// Where its last query stands.
    pub status: QueryStatus,
    /// When its first query still in the journal began, unix milliseconds.
    pub started_at_ms: u64,
    /// When its last query began, unix milliseconds.
    pub last_at_ms: u64,
}

impl Store {
    /// Every query's summary, oldest first (corrupt entries skipped).
    fn all_summaries(&self) -> Result<Vec<QuerySummary>, StoreError> {
        let mut summaries = Vec::new();
        for entry in self.inner.queries.iter() {
            let (key, value) = entry?;
            if let Some((id, header)) = decode_query_entry(&key, &value) {
                summaries.push(header.summary(id));
            }
        }
        Ok(summaries)
    }

    /// The conversation the query `id` belongs to; `None` if there is no
    /// such query.
    pub fn conversation_of(&self, id: QueryId) -> Result<Option<QueryId>, StoreError> {
        Ok(self.query_summary(id)?.map(|summary| summary.conversation))
    }

    /// One query's summary; `None` if there is no such query.
    pub fn query_summary(&self, id: QueryId) -> Result<Option<QuerySummary>, StoreError> {
        let Some(value) = self.inner.queries.get(id.key())? else {
            return Ok(None);
        };
        Ok(decode_query_entry(&id.key(), &value).map(|(id, header)| header.summary(id)))
    }

    /// The queries of a conversation in full, oldest first (empty if it has
    /// none).
    pub fn conversation(&self, id: QueryId) -> Result<Vec<QueryRecord>, StoreError> {
        let mut records = Vec::new();
        for summary in self.all_summaries()? {
            if summary.conversation == id
                && let Some(record) = self.query(summary.id)?
            {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The conversation of the newest query, if any.
    pub fn latest_conversation(&self) -> Result<Option<QueryId>, StoreError> {
        Ok(self.list_queries(1, 0)?.first().map(|summary| summary.conversation))
    }

    /// The conversations, the most recently continued first, at most
    /// `limit`.
    pub fn list_conversations(&self, limit: usize) -> Result<Vec<ConversationSummary>, StoreError> {
        let mut conversations: Vec<ConversationSummary> = Vec::new();
        for summary in self.all_summaries()? {
            match conversations.iter_mut().find(|conversation| conversation.id == summary.conversation) {
                Some(conversation) => {
                    conversation.turns += 1;
                    conversation.last = summary.id;
                    conversation.status = summary.status;
                    conversation.last_at_ms = summary.started_at_ms;
                }
                None => conversations.push(ConversationSummary {
                    id: summary.conversation,
                    title: summary.text.clone(),
                    turns: 1,
                    last: summary.id,
                    status: summary.status,
                    started_at_ms: summary.started_at_ms,
                    last_at_ms: summary.started_at_ms,
                }),
            }
        }
        conversations.sort_by_key(|conversation| std::cmp::Reverse(conversation.last));
        conversations.truncate(limit);
        Ok(conversations)
    }

    /// Deletes every query of a conversation (as [`Store::delete_query`]
    /// each); returns the ids deleted, oldest first.
    ///
    /// # Errors
    /// [`StoreError::QueryRunning`] if one of them runs now (nothing is
    /// deleted then); [`StoreError::Database`].
    pub fn delete_conversation(&self, id: QueryId) -> Result<Vec<QueryId>, StoreError> {
        let ids: Vec<QueryId> = self
            .all_summaries()?
            .into_iter()
            .filter(|summary| summary.conversation == id)
            .map(|summary| summary.id)
            .collect();
        if let Some(running) = ids.iter().find(|id| self.live().contains(id)) {
            return Err(StoreError::QueryRunning(*running));
        }
        let mut deleted = Vec::new();
        for id in ids {
            if self.delete_query(id)? {
                deleted.push(id);
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::super::QueryOutcome;
    use super::*;

    fn finished(store: &Store, text: &str, conversation: Option<QueryId>) -> QueryId {
        let id = store.begin_query_in(text, "on_device", conversation).unwrap();
        store.finish_query(id, QueryOutcome::Done { answer: format!("answer to {text}") }).unwrap();
        id
    }

    #[test]
    fn conversations_are_listed_continued_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = finished(&store, "names for a bakery", None);
        let other = finished(&store, "what is rust", None);
        let second = finished(&store, "make them shorter", Some(first));

        assert_eq!(store.conversation_of(second).unwrap(), Some(first));
        assert_eq!(store.conversation_of(other).unwrap(), Some(other));
        assert_eq!(store.latest_conversation().unwrap(), Some(first));
        let turns = store.conversation(first).unwrap();
        let texts: Vec<&str> = turns.iter().map(|record| record.text.as_str()).collect();
        assert_eq!(texts, ["names for a bakery", "make them shorter"]);
        assert_eq!(turns[1].conversation, first);
        assert_eq!(turns[1].answer.as_deref(), Some("answer to make them shorter"));

        let listed = store.list_conversations(10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!((listed[0].id, listed[0].turns, listed[0].last), (first, 2, second));
        assert_eq!(listed[0].title, "names for a bakery");
        assert_eq!((listed[1].id, listed[1].turns), (other, 1));
        assert_eq!(store.list_conversations(1).unwrap().len(), 1);

        assert_eq!(store.delete_conversation(first).unwrap(), vec![first, second]);
        assert!(store.conversation(first).unwrap().is_empty());
        assert!(store.query(other).unwrap().is_some(), "another conversation is left alone");
    }

    #[test]
    fn a_running_turn_keeps_its_conversation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = finished(&store, "a question", None);
        let running = store.begin_query_in("a follow-up", "on_device", Some(first)).unwrap();
        assert!(matches!(store.delete_conversation(first), Err(StoreError::QueryRunning(id)) if id == running));
        assert_eq!(store.conversation(first).unwrap().len(), 2, "nothing deleted");
    }
}
