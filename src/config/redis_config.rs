//! `[redis]`: used only by `store.kind = "redis"`, on one Redis (`url`) or
//! a Redis Cluster (`cluster_nodes`; docs/architecture.md, "Redis
//! Cluster").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Connection URL of a single Redis; empty means
    /// [`RedisConfig::DEFAULT_URL`] unless `cluster_nodes` is set.
    pub url: String,
    /// Seed nodes of a Redis Cluster, instead of `url` (setting both is an
    /// error); the client learns the rest of the cluster from them.
    pub cluster_nodes: Vec<String>,
    /// Timeout of every call, in milliseconds.
    pub timeout_ms: u64,
    /// Prefix of every key.
    pub key_prefix: String,
}

impl RedisConfig {
    /// The Redis of a config that names none.
    pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

    /// The single Redis to connect to.
    pub fn url(&self) -> &str {
        if self.url.is_empty() {
            Self::DEFAULT_URL
        } else {
            &self.url
        }
    }

    /// One line per problem.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.timeout_ms == 0 || self.timeout_ms > 10_000 {
            problems.push("redis.timeout_ms must be 1..=10000".into());
        }
        if !self.cluster_nodes.is_empty() && !self.url.is_empty() {
            problems.push(
                "redis.url and redis.cluster_nodes are both set: set url for a single Redis, \
                 or cluster_nodes for a Redis Cluster"
                    .into(),
            );
        }
        problems
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            cluster_nodes: Vec::new(),
            timeout_ms: 250,
            key_prefix: "cartseal:cart:".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_and_cluster_nodes_together_are_one_problem_naming_both() {
        let both = RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            cluster_nodes: vec!["redis://127.0.0.1:7000".into()],
            ..RedisConfig::default()
        };
        let problems = both.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("redis.url") && problems[0].contains("redis.cluster_nodes"),
            "{problems:?}"
        );
        let cluster = RedisConfig {
            url: String::new(),
            ..both.clone()
        };
        assert_eq!(cluster.validate(), Vec::<String>::new());
        let single = RedisConfig {
            cluster_nodes: Vec::new(),
            ..both
        };
        assert_eq!(single.validate(), Vec::<String>::new());
        assert_eq!(RedisConfig::default().url(), RedisConfig::DEFAULT_URL);
    }
}
