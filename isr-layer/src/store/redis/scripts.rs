//! The Lua scripts the store runs, each in a file of its own under `scripts/`.
//!
//! A script touches only the keys it is given (`KEYS[n]`), never a name it makes up, so Redis
//! Cluster can route it to the slot of those keys; each script here is given one key.

use redis::{Cmd, Script, ScriptInvocation};

use crate::store::LockToken;

/// See [`Scripts::stamp`].
const STAMP: &str = include_str!("scripts/stamp.lua");
/// See [`Scripts::unlock`].
const UNLOCK: &str = include_str!("scripts/unlock.lua");

/// The store's scripts. The unlock script, sent with every render, has its hash computed once
/// (Redis runs it by hash, loading it when it does not know it); the stamp script, sent once
/// a purge, goes whole (`EVAL`), so it can share a pipeline with the `WAIT` for a replica.
pub(super) struct Scripts {
    unlock: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            unlock: Script::new(UNLOCK),
        }
    }

    /// Keeps the stamp `at` under `field` of the stamps hash only if it is newer than the one
    /// stored, and keeps the hash bounded to `max_stamps` fields. Past the bound, about the
    /// older half of the stamps (those up to the median) is folded into the `everything`
    /// fields ("everything, expire" and "everything, stale", by each field's mode), as an
    /// instance's own tag clock does: a page may then re-render once, never pass as fresh.
    /// Stamps are compared as numbers (microseconds, exact in Lua's doubles) and written back
    /// as the strings they were. The script returns how many fields were folded.
    pub(super) fn stamp(
        &self,
        stamps_key: String,
        field: String,
        at: u64,
        max_stamps: usize,
        everything: &[String; 2],
    ) -> Cmd {
        let mut call = redis::cmd("EVAL");
        call.arg(STAMP)
            .arg(1)
            .arg(stamps_key)
            .arg(field)
            .arg(at)
            .arg(max_stamps)
            .arg(&everything[0])
            .arg(&everything[1]);
        call
    }

    /// Deletes the lock at `lock_key` only if `token` still holds it. The script returns how
    /// many keys it deleted (0 or 1).
    pub(super) fn unlock(&self, lock_key: String, token: &LockToken) -> ScriptInvocation<'_> {
        let mut call = self.unlock.key(lock_key);
        call.arg(token.as_str());
        call
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use redis::AsyncCommands;

    use super::*;
    use crate::store::redis::testing;

    /// `script` without its comments.
    fn code(script: &str) -> String {
        script
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The indexes `script` reads from `table` (`KEYS` or `ARGV`), e.g. `{1}` for `KEYS[1]`.
    fn indexes(script: &str, table: &str) -> BTreeSet<usize> {
        let open = format!("{table}[");
        let script = code(script);
        script
            .match_indices(&open)
            .map(|(at, _)| {
                let rest = &script[at + open.len()..];
                let close = rest.find(']').expect("a closed index");
                rest[..close].parse().unwrap_or_else(|_| {
                    panic!("{table}[{}] is not a literal index", &rest[..close])
                })
            })
            .collect()
    }

    /// What each `redis.call(…)` of `script` names as its key (its second argument).
    fn keys_called(script: &str) -> Vec<String> {
        let script = code(script);
        script
            .match_indices("redis.call(")
            .map(|(at, call)| {
                let args = &script[at + call.len()..];
                let after_command = &args[args.find(',').expect("a command with a key") + 1..];
                after_command
                    .split([',', ')'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn each_script_touches_only_the_key_it_is_given() {
        for (name, script) in [("stamp", STAMP), ("unlock", UNLOCK)] {
            assert_eq!(indexes(script, "KEYS"), BTreeSet::from([1]), "{name}");
            let called = keys_called(script);
            assert!(!called.is_empty(), "{name}");
            assert!(
                called.iter().all(|key| key == "KEYS[1]"),
                "{name} calls Redis on a key it was not given: {called:?}"
            );
        }
    }

    #[test]
    fn each_script_reads_exactly_the_arguments_it_is_given() {
        assert_eq!(indexes(STAMP, "ARGV"), (1..=5).collect());
        assert_eq!(indexes(UNLOCK, "ARGV"), BTreeSet::from([1]));
    }

    #[tokio::test]
    async fn the_stamp_script_keeps_the_newest_stamp_of_a_field() {
        let (mut redis, key) = (testing::raw().await, testing::unique_prefix("stamp-newest"));
        let scripts = Scripts::new();
        let everything = ["all-expire".to_owned(), "all-stale".to_owned()];
        for (at, kept) in [(20, 20), (10, 20), (30, 30)] {
            let folded: i64 = scripts
                .stamp(key.clone(), "tag-a".to_owned(), at, 100, &everything)
                .query_async(&mut redis)
                .await
                .unwrap();
            assert_eq!(folded, 0);
            let stored: u64 = redis.hget(&key, "tag-a").await.unwrap();
            assert_eq!(stored, kept, "after writing {at}");
        }
        let _: i64 = redis.del(&key).await.unwrap();
    }

    #[tokio::test]
    async fn past_its_bound_the_stamp_script_folds_the_older_half_by_mode() {
        let (mut redis, key) = (testing::raw().await, testing::unique_prefix("stamp-fold"));
        let scripts = Scripts::new();
        let everything = ["all-expire".to_owned(), "all-stale".to_owned()];
        let fields = [
            (r#"{"kind":"tag","name":"a","mode":"expire"}"#, 1),
            (r#"{"kind":"tag","name":"b","mode":"stale"}"#, 2),
            (r#"{"kind":"tag","name":"c","mode":"expire"}"#, 3),
            (r#"{"kind":"tag","name":"d","mode":"stale"}"#, 4),
            (r#"{"kind":"tag","name":"e","mode":"expire"}"#, 5),
        ];
        let mut folded = Vec::new();
        for (field, at) in fields {
            let n: i64 = scripts
                .stamp(key.clone(), field.to_owned(), at, 4, &everything)
                .query_async(&mut redis)
                .await
                .unwrap();
            folded.push(n);
        }
        // The fifth field passes the bound of four: the stamps up to the median (1, 2, 3) fold.
        assert_eq!(folded, [0, 0, 0, 0, 3]);
        let mut held: Vec<(String, u64)> = redis.hgetall(&key).await.unwrap();
        held.sort();
        let mut expected = vec![
            ("all-expire".to_owned(), 3),
            ("all-stale".to_owned(), 2),
            (fields[3].0.to_owned(), 4),
            (fields[4].0.to_owned(), 5),
        ];
        expected.sort();
        assert_eq!(held, expected);
        let _: i64 = redis.del(&key).await.unwrap();
    }

    #[tokio::test]
    async fn the_unlock_script_deletes_the_lock_only_for_its_token() {
        let (mut redis, key) = (testing::raw().await, testing::unique_prefix("unlock"));
        let scripts = Scripts::new();
        let _: () = redis.set_ex(&key, "mine-1", 60).await.unwrap();
        let deleted: i64 = scripts
            .unlock(key.clone(), &LockToken::new("mine-2"))
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(deleted, 0);
        let held: Option<String> = redis.get(&key).await.unwrap();
        assert_eq!(held.as_deref(), Some("mine-1"));
        let deleted: i64 = scripts
            .unlock(key.clone(), &LockToken::new("mine-1"))
            .invoke_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        let held: Option<String> = redis.get(&key).await.unwrap();
        assert_eq!(held, None);
    }
}
