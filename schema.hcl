# The SavvySolve database, declared. This file is the source of truth:
# `go run . db diff NAME` turns a change here into the next migration file,
# and `go run . db check` fails when the migrations and this file disagree.
#
# Kept out of this file because Atlas's open-source library cannot manage them:
# the pg_trgm extension (created by the hand-written first migration). Also
# kept out: the job queue's tables (river_*), which River's own migrator owns
# (internal/migrate/river.go); the drift checks leave them out.
#
# ON DELETE policy: rows that are the platform's history (tickets, sessions,
# ratings, the users and solvers they name) are never removed by a cascade:
# their foreign keys RESTRICT, so deleting a user with tickets or sessions
# fails. Personal data is removed by anonymising the user instead. Rows that
# only exist as part of a parent (a session's messages, screen shares and
# rating; a user's solver profile) go with the parent. Telephony logs outlive
# whatever they were linked to (SET NULL): they are billing records.

schema "public" {}

enum "user_role" {
  schema = schema.public
  values = ["customer", "solver", "admin"]
}

enum "solver_type" {
  schema = schema.public
  values = ["general", "specialist"]
}

enum "solver_status" {
  schema = schema.public
  values = ["onboarding", "active", "inactive", "suspended"]
}

enum "device_type" {
  schema = schema.public
  values = ["phone", "tablet", "computer", "printer", "network", "smart_home", "tv", "other"]
}

# Declared from least to most urgent, so ORDER BY urgency DESC is "most urgent first".
enum "urgency" {
  schema = schema.public
  values = ["low", "medium", "high", "critical"]
}

enum "ticket_status" {
  schema = schema.public
  values = ["pending", "claimed", "in_progress", "completed", "cancelled", "refunded"]
}

enum "ticket_tier" {
  schema = schema.public
  values = ["standard", "priority", "premium"]
}

enum "message_sender" {
  schema = schema.public
  values = ["customer", "solver", "system"]
}

enum "direction" {
  schema = schema.public
  values = ["inbound", "outbound"]
}

table "users" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "clerk_id" {
    type = varchar(255)
  }
  column "email" {
    type = varchar(255)
  }
  column "name" {
    type = varchar(255)
    null = true
  }
  column "phone" {
    type = varchar(50)
    null = true
  }
  column "role" {
    type    = enum.user_role
    default = "customer"
  }
  column "stripe_customer_id" {
    type = varchar(255)
    null = true
  }
  # deleted_at is when Clerk's user.deleted anonymised the user: the row
  # stays (tickets and messages refer to it), its tokens are refused, and a
  # later token or webhook never brings it back.
  column "deleted_at" {
    type = timestamptz
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  index "users_clerk_id_key" {
    unique  = true
    columns = [column.clerk_id]
  }
  # The admins' user list: newest first, optionally of one role.
  index "users_created_at_idx" {
    columns = [column.created_at, column.id]
  }
  index "users_role_idx" {
    columns = [column.role, column.created_at, column.id]
  }
  # The user list's search by name or email (substring, needs pg_trgm).
  index "users_name_trgm_idx" {
    type = GIN
    on {
      column = column.name
      ops    = gin_trgm_ops
    }
  }
  index "users_email_trgm_idx" {
    type = GIN
    on {
      column = column.email
      ops    = gin_trgm_ops
    }
  }
}

table "solvers" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "user_id" {
    type = uuid
  }
  column "type" {
    type    = enum.solver_type
    default = "general"
  }
  column "status" {
    type    = enum.solver_status
    default = "onboarding"
  }
  column "stripe_connect_id" {
    type = varchar(255)
    null = true
  }
  column "revenue_share_percent" {
    type    = integer
    default = 70
  }
  # Denormalized counters, kept up to date by the writes that change them:
  # {"averageRating": 4.5 | null, "totalRatings": 0, "completedSessions": 0, "totalEarningsCents": 0}
  column "stats" {
    type    = jsonb
    default = sql("'{\"averageRating\": null, \"totalRatings\": 0, \"completedSessions\": 0, \"totalEarningsCents\": 0}'::jsonb")
  }
  column "google_email" {
    type = varchar(255)
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  # A solver profile is part of its user.
  foreign_key "solvers_user_id_fkey" {
    columns     = [column.user_id]
    ref_columns = [table.users.column.id]
    on_delete   = CASCADE
  }
  index "solvers_user_id_key" {
    unique  = true
    columns = [column.user_id]
  }
  index "solvers_status_idx" {
    columns = [column.status, column.created_at, column.id]
  }
  check "solvers_revenue_share_percent_check" {
    expr = "(revenue_share_percent >= 0) AND (revenue_share_percent <= 100)"
  }
}

table "tickets" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  # {"name": "...", "email": "..." | null, "phone": "..." | null}
  column "customer_info" {
    type = jsonb
  }
  column "description" {
    type = text
  }
  column "device_type" {
    type = enum.device_type
  }
  column "urgency" {
    type    = enum.urgency
    default = "medium"
  }
  column "status" {
    type    = enum.ticket_status
    default = "pending"
  }
  column "solver_id" {
    type = uuid
    null = true
  }
  column "claimed_at" {
    type = timestamptz
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  # The signed-in customer who opened the ticket; null for guests.
  column "customer_id" {
    type = uuid
    null = true
  }
  # Why the ticket was last cancelled or refunded, as given by whoever did it.
  column "status_reason" {
    type = text
    null = true
  }
  # SHA-256 of the guest's ticket access token; the token itself is never stored.
  column "access_token_hash" {
    type = bytea
    null = true
  }
  primary_key {
    columns = [column.id]
  }
  # A customer with tickets is history: it cannot be deleted.
  foreign_key "tickets_customer_id_fkey" {
    columns     = [column.customer_id]
    ref_columns = [table.users.column.id]
    on_delete   = RESTRICT
  }
  index "tickets_customer_id_idx" {
    columns = [column.customer_id, column.created_at, column.id]
  }
  index "tickets_access_token_hash_key" {
    unique  = true
    columns = [column.access_token_hash]
  }
  # A solver with tickets is history: it cannot be deleted.
  foreign_key "tickets_solver_id_fkey" {
    columns     = [column.solver_id]
    ref_columns = [table.solvers.column.id]
    on_delete   = RESTRICT
  }
  # The dispatch queue: pending tickets, most urgent first, then oldest first.
  index "tickets_queue_idx" {
    on {
      column = column.urgency
      desc   = true
    }
    on {
      column = column.created_at
    }
    on {
      column = column.id
    }
    where = "(status = 'pending'::ticket_status)"
  }
  index "tickets_status_idx" {
    columns = [column.status, column.created_at, column.id]
  }
  index "tickets_solver_id_idx" {
    columns = [column.solver_id, column.created_at, column.id]
  }
  index "tickets_created_at_idx" {
    columns = [column.created_at, column.id]
  }
  # Word search in descriptions (needs pg_trgm, see the first migration).
  index "tickets_description_trgm_idx" {
    type = GIN
    on {
      column = column.description
      ops    = gin_trgm_ops
    }
  }
}

table "sessions" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "ticket_id" {
    type = uuid
  }
  column "solver_id" {
    type = uuid
  }
  # Seconds between started_at and ended_at, set when the session ends.
  column "duration" {
    type = integer
    null = true
  }
  column "tier" {
    type    = enum.ticket_tier
    default = "standard"
  }
  # The tier's price list when the session started, and the total when it ended.
  column "pricing" {
    type = jsonb
    null = true
  }
  # The solver's share of the total, in cents.
  column "earnings" {
    type = integer
    null = true
  }
  column "payment_info" {
    type = jsonb
    null = true
  }
  # How many messages the session has; the next message takes seq = message_count + 1.
  # Incrementing it locks the session row, so messages of one session commit in seq order.
  column "message_count" {
    type    = integer
    default = 0
  }
  column "started_at" {
    type = timestamptz
    null = true
  }
  column "ended_at" {
    type = timestamptz
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "sessions_ticket_id_fkey" {
    columns     = [column.ticket_id]
    ref_columns = [table.tickets.column.id]
    on_delete   = RESTRICT
  }
  foreign_key "sessions_solver_id_fkey" {
    columns     = [column.solver_id]
    ref_columns = [table.solvers.column.id]
    on_delete   = RESTRICT
  }
  index "sessions_ticket_id_idx" {
    columns = [column.ticket_id, column.created_at]
  }
  index "sessions_solver_id_idx" {
    columns = [column.solver_id, column.created_at]
  }
  # Session history, newest first.
  index "sessions_created_at_idx" {
    columns = [column.created_at, column.id]
  }
  # The Stripe PaymentIntent of the session's payment: Stripe's webhooks find
  # their session by it, and no two sessions share one.
  index "sessions_payment_intent_key" {
    unique = true
    on {
      expr = "(payment_info ->> 'intentId'::text)"
    }
    where = "((payment_info ->> 'intentId'::text) IS NOT NULL)"
  }
}

table "session_messages" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "session_id" {
    type = uuid
  }
  # Position in the session, 1, 2, 3, ...: the order of the chat and the resume cursor.
  column "seq" {
    type = integer
  }
  column "sender" {
    type = enum.message_sender
  }
  column "author_id" {
    type = uuid
    null = true
  }
  column "body" {
    type = text
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  # Messages are part of their session.
  foreign_key "session_messages_session_id_fkey" {
    columns     = [column.session_id]
    ref_columns = [table.sessions.column.id]
    on_delete   = CASCADE
  }
  # A user who wrote messages is history: it cannot be deleted.
  foreign_key "session_messages_author_id_fkey" {
    columns     = [column.author_id]
    ref_columns = [table.users.column.id]
    on_delete   = RESTRICT
  }
  # Reading a session's chat in order, and resuming after a message.
  index "session_messages_session_id_seq_key" {
    unique  = true
    columns = [column.session_id, column.seq]
  }
  check "session_messages_body_check" {
    expr = "((char_length(body) >= 1) AND (char_length(body) <= 4000))"
  }
}

table "call_logs" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "ticket_id" {
    type = uuid
    null = true
  }
  column "session_id" {
    type = uuid
    null = true
  }
  # Telnyx's call_control_id (or call_session_id).
  column "provider_id" {
    type = varchar(255)
  }
  column "direction" {
    type = enum.direction
  }
  column "from_number" {
    type = varchar(50)
  }
  column "to_number" {
    type = varchar(50)
  }
  column "status" {
    type = varchar(50)
  }
  column "duration" {
    type = integer
    null = true
  }
  column "recording_url" {
    type = text
    null = true
  }
  column "started_at" {
    type = timestamptz
    null = true
  }
  column "ended_at" {
    type = timestamptz
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "call_logs_ticket_id_fkey" {
    columns     = [column.ticket_id]
    ref_columns = [table.tickets.column.id]
    on_delete   = SET_NULL
  }
  foreign_key "call_logs_session_id_fkey" {
    columns     = [column.session_id]
    ref_columns = [table.sessions.column.id]
    on_delete   = SET_NULL
  }
  index "call_logs_provider_id_key" {
    unique  = true
    columns = [column.provider_id]
  }
  index "call_logs_session_id_idx" {
    columns = [column.session_id, column.created_at]
  }
  index "call_logs_ticket_id_idx" {
    columns = [column.ticket_id, column.created_at]
  }
}

table "sms_logs" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "ticket_id" {
    type = uuid
    null = true
  }
  column "session_id" {
    type = uuid
    null = true
  }
  # Telnyx's message id.
  column "provider_id" {
    type = varchar(255)
  }
  column "direction" {
    type = enum.direction
  }
  column "from_number" {
    type = varchar(50)
  }
  column "to_number" {
    type = varchar(50)
  }
  column "body" {
    type = text
  }
  column "status" {
    type = varchar(50)
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "sms_logs_ticket_id_fkey" {
    columns     = [column.ticket_id]
    ref_columns = [table.tickets.column.id]
    on_delete   = SET_NULL
  }
  foreign_key "sms_logs_session_id_fkey" {
    columns     = [column.session_id]
    ref_columns = [table.sessions.column.id]
    on_delete   = SET_NULL
  }
  index "sms_logs_provider_id_key" {
    unique  = true
    columns = [column.provider_id]
  }
  index "sms_logs_ticket_id_idx" {
    columns = [column.ticket_id, column.created_at]
  }
  index "sms_logs_session_id_idx" {
    columns = [column.session_id, column.created_at]
  }
}

table "ratings" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "session_id" {
    type = uuid
  }
  # Denormalized from the session on purpose: rating summaries per solver.
  column "solver_id" {
    type = uuid
  }
  column "rating" {
    type = integer
  }
  column "comment" {
    type = text
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  # A rating is part of its session.
  foreign_key "ratings_session_id_fkey" {
    columns     = [column.session_id]
    ref_columns = [table.sessions.column.id]
    on_delete   = CASCADE
  }
  foreign_key "ratings_solver_id_fkey" {
    columns     = [column.solver_id]
    ref_columns = [table.solvers.column.id]
    on_delete   = RESTRICT
  }
  # One rating per session.
  index "ratings_session_id_key" {
    unique  = true
    columns = [column.session_id]
  }
  index "ratings_solver_id_created_at_idx" {
    on {
      column = column.solver_id
    }
    on {
      column = column.created_at
      desc   = true
    }
    on {
      column = column.id
      desc   = true
    }
  }
  check "ratings_rating_check" {
    expr = "((rating >= 1) AND (rating <= 5))"
  }
}

table "screen_share_sessions" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "session_id" {
    type = uuid
  }
  column "provider" {
    type = varchar(50)
  }
  column "status" {
    type = varchar(50)
  }
  column "join_url" {
    type = text
    null = true
  }
  column "started_at" {
    type = timestamptz
    null = true
  }
  column "ended_at" {
    type = timestamptz
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "updated_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "screen_share_sessions_session_id_fkey" {
    columns     = [column.session_id]
    ref_columns = [table.sessions.column.id]
    on_delete   = CASCADE
  }
  index "screen_share_sessions_session_id_idx" {
    columns = [column.session_id, column.created_at]
  }
  # At most one active screen share per session.
  index "screen_share_sessions_one_active_key" {
    unique  = true
    columns = [column.session_id]
    where   = "((status)::text = 'active'::text)"
  }
  check "screen_share_sessions_status_check" {
    expr = "((status)::text = ANY ((ARRAY['active'::character varying, 'ended'::character varying])::text[]))"
  }
}

# Every signed webhook delivery (Clerk, Telnyx), stored before it is
# acknowledged. A job of the River queue (whose tables River's own migrator
# installs, see internal/migrate/river.go) applies it and sets processed_at;
# the unique key makes a second delivery of the same event a no-op.
table "webhook_events" {
  schema = schema.public
  column "id" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "source" {
    type = varchar(20)
  }
  # Clerk: the svix-id header. Telnyx: the event's data.id.
  column "delivery_id" {
    type = varchar(255)
  }
  column "event_type" {
    type = varchar(100)
  }
  # What the event is about: the Clerk user id, the Telnyx call or message id.
  column "subject_id" {
    type = varchar(255)
    null = true
  }
  # When the provider says the event happened; orders the events of one subject.
  column "occurred_at" {
    type = timestamptz
    null = true
  }
  column "payload" {
    type = jsonb
  }
  column "received_at" {
    type    = timestamptz
    default = sql("now()")
  }
  column "processed_at" {
    type = timestamptz
    null = true
  }
  primary_key {
    columns = [column.id]
  }
  index "webhook_events_source_delivery_id_key" {
    unique  = true
    columns = [column.source, column.delivery_id]
  }
  index "webhook_events_subject_idx" {
    columns = [column.source, column.subject_id, column.occurred_at]
  }
  # Retention deletes by age.
  index "webhook_events_received_at_idx" {
    columns = [column.received_at]
  }
  check "webhook_events_source_check" {
    expr = "((source)::text = ANY ((ARRAY['clerk'::character varying, 'telnyx'::character varying, 'stripe'::character varying])::text[]))"
  }
}
