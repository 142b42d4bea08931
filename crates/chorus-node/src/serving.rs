//! The node's serving stack as a public API, for measuring it from outside
//! (chorus-bench's `chorus bench --network` puts it over instrumented
//! executors). `Node::join_network` builds the same stack.

use std::sync::Arc;
use std::time::Duration;

use chorus_core::{Catalog, Executor, GenerationSpec, Store};
use chorus_net::{TaskRequest, TaskService};

use crate::network::{NodeService, ServeSettings, ServiceHandle};

/// The task service a serving node puts behind its network (admission,
/// limits, status, receipts), over any executor.
#[must_use]
pub fn task_service(
    executor: Arc<dyn Executor>,
    catalog: &Catalog,
    settings: ServeSettings,
    store: Store,
) -> Arc<dyn TaskService> {
    Arc::new(ServiceHandle(NodeService::new(executor, catalog, settings, store)))
}

/// The task request a node sends a peer for a conductor's sub-task.
#[must_use]
pub fn task_request(specialist: &str, spec: &GenerationSpec, deadline: Duration) -> TaskRequest {
    crate::network::task_request(specialist, spec, deadline)
}
