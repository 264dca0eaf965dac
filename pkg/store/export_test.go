package store

// HeartbeatSQL is the heartbeat statement, for tests of its plan.
const HeartbeatSQL = heartbeatSQL
