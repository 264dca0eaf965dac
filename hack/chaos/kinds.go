package main

// Kinds of violation, as the report names them.
const (
	kindStuck             = "stuck"
	kindDuplicateWorkload = "duplicate_workload"
	kindLeakedWorkload    = "leaked_workload"
	kindDeletedListFailed = "deleted_during_failed_list"
	kindUnexpectedStop    = "unexpected_stop"
	kindLostCreate        = "lost_create"
	kindDuplicateBot      = "duplicate_bot"
	kindCreateRejected    = "create_rejected"
	kindTransientFatal    = "fatal_from_transient_fault"
	kindTwoLeaders        = "two_leaders"
	kindLeaderGap         = "leader_gap"
	kindLeadersAtEnd      = "leaders_at_end"
	kindUnrecovered       = "unrecovered"
	kindRecoveryP99       = "recovery_p99"
	kindReplicaIDs        = "replica_id_not_honoured"
	kindPostgresRecovery  = "postgres_recovery"
	kindDiscardedJob      = "discarded_job"
	kindReplicaExited     = "replica_exited"
	kindPlatformLimit     = "platform_limit"
	kindWebhookMissing    = "webhook_missing"
	kindWebhookSignature  = "webhook_signature"
	kindRestartNotEnded   = "restarted_slot_bot_not_ended"
	kindRecordingMissing  = "recording_missing"
)
