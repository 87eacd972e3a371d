"""The audit trail and its outbox. Public surface: `trail.new_event`, `trail.recorded_change` (an
idempotent transaction that saves its event), `models.EventModel`, `outbox.handle` (the events table's
stream to EventBridge)."""
