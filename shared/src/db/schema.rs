//! The portable schema: one hand-written description of both backends.
//!
//! Kept in step with `migrations/{postgres,sqlite}`; instants use
//! [`UtcInstant`](super::types::UtcInstant), enums are `Text`.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    departments (id) {
        id -> BigInt,
        name -> Text,
        retired_at -> Nullable<UtcInstant>,
        created_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    users (id) {
        id -> BigInt,
        telegram_id -> BigInt,
        username -> Nullable<Text>,
        first_name -> Text,
        last_name -> Text,
        department_id -> Nullable<BigInt>,
        status -> Text,
        role -> Nullable<Text>,
        is_admin -> Bool,
        language -> Text,
        time_zone -> Text,
        email -> Nullable<Text>,
        work_status -> Text,
        work_status_until -> Nullable<Date>,
        unreachable_at -> Nullable<UtcInstant>,
        decided_at -> Nullable<UtcInstant>,
        decided_by -> Nullable<BigInt>,
        created_at -> UtcInstant,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    owner_settings (owner_id) {
        owner_id -> BigInt,
        slot_minutes -> Integer,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    availability_slots (owner_id,weekday,start_minute) {
        owner_id -> BigInt,
        weekday -> Integer,
        start_minute -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    blocked_periods (id) {
        id -> BigInt,
        owner_id -> BigInt,
        starts_at -> UtcInstant,
        ends_at -> UtcInstant,
        reason -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    booking_settings (id) {
        id -> Integer,
        horizon_days -> Integer,
        min_notice_minutes -> Integer,
        cancel_notice_minutes -> Integer,
        weekends_enabled -> Bool,
        limit_per_period -> Integer,
        limit_period -> Text,
        mode -> Text,
        cadence_days -> Integer,
        reminder_offsets -> Text,
        overdue_report_minute -> Integer,
        updated_by -> Nullable<BigInt>,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    meetings (id) {
        id -> BigInt,
        manager_id -> BigInt,
        mode -> Text,
        starts_at -> UtcInstant,
        ends_at -> UtcInstant,
        status -> Text,
        period_key -> Text,
        revision -> Integer,
        sync_state -> Text,
        synced_revision -> Nullable<Integer>,
        sync_attempts -> Integer,
        sync_error -> Nullable<Text>,
        calendar_owner_id -> Nullable<BigInt>,
        google_event_id -> Nullable<Text>,
        meet_link -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        cancelled_by -> Nullable<BigInt>,
        cancelled_at -> Nullable<UtcInstant>,
        correlation_id -> Nullable<Text>,
        created_at -> UtcInstant,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    meeting_participants (meeting_id,user_id) {
        meeting_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    slot_claims (owner_id,cell_start) {
        owner_id -> BigInt,
        cell_start -> UtcInstant,
        meeting_id -> Nullable<BigInt>,
        blocked_period_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    booking_quotas (manager_id,period_key) {
        manager_id -> BigInt,
        period_key -> Text,
        used -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    reminders (id) {
        id -> BigInt,
        meeting_id -> BigInt,
        recipient_id -> BigInt,
        meeting_revision -> Integer,
        offset_minutes -> Integer,
        due_at -> UtcInstant,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<UtcInstant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    broadcasts (id) {
        id -> BigInt,
        author_id -> BigInt,
        body -> Text,
        state -> Text,
        total -> Integer,
        delivered -> Integer,
        failed -> Integer,
        blocked -> Integer,
        progress_chat_id -> Nullable<BigInt>,
        progress_message_id -> Nullable<BigInt>,
        progress_edited_at -> Nullable<UtcInstant>,
        correlation_id -> Nullable<Text>,
        created_at -> UtcInstant,
        finished_at -> Nullable<UtcInstant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    outbox_messages (id) {
        id -> BigInt,
        chat_id -> BigInt,
        recipient_id -> Nullable<BigInt>,
        kind -> Text,
        lane -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> UtcInstant,
        last_error -> Nullable<Text>,
        telegram_message_id -> Nullable<BigInt>,
        broadcast_id -> Nullable<BigInt>,
        dedupe_key -> Nullable<Text>,
        correlation_id -> Nullable<Text>,
        created_at -> UtcInstant,
        sent_at -> Nullable<UtcInstant>,
        sending_until -> Nullable<UtcInstant>,
        sender -> Nullable<Text>,
        handoffs -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    dialogue_states (telegram_id) {
        telegram_id -> BigInt,
        state -> Text,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    handled_updates (update_id) {
        update_id -> BigInt,
        handled_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    inbound_updates (update_id) {
        update_id -> BigInt,
        chat_id -> Nullable<BigInt>,
        kind -> Text,
        payload -> Text,
        state -> Text,
        received_at -> UtcInstant,
        handled_at -> Nullable<UtcInstant>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    google_connections (user_id) {
        user_id -> BigInt,
        kind -> Text,
        status -> Text,
        google_email -> Nullable<Text>,
        calendar_id -> Text,
        refresh_token_enc -> Nullable<Binary>,
        access_token_enc -> Nullable<Binary>,
        access_token_expires_at -> Nullable<UtcInstant>,
        key_id -> Nullable<Text>,
        sync_token -> Nullable<Text>,
        busy_synced_at -> Nullable<UtcInstant>,
        watch_channel_id -> Nullable<Text>,
        watch_resource_id -> Nullable<Text>,
        watch_expires_at -> Nullable<UtcInstant>,
        broken_reason -> Nullable<Text>,
        created_at -> UtcInstant,
        updated_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    oauth_states (state_hash) {
        state_hash -> Text,
        user_id -> BigInt,
        pkce_verifier_enc -> Binary,
        key_id -> Text,
        created_at -> UtcInstant,
        expires_at -> UtcInstant,
        used_at -> Nullable<UtcInstant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    busy_intervals (user_id,event_id) {
        user_id -> BigInt,
        event_id -> Text,
        starts_at -> UtcInstant,
        ends_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    periodic_runs (name,period_key) {
        name -> Text,
        period_key -> Text,
        claimed_by -> Text,
        claimed_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    job_runs (id) {
        id -> BigInt,
        job_type -> Text,
        job_id -> Text,
        correlation_id -> Nullable<Text>,
        attempt -> Integer,
        worker -> Text,
        started_at -> UtcInstant,
        duration_ms -> BigInt,
        outcome -> Text,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    health_states (check_name) {
        check_name -> Text,
        status -> Text,
        detail -> Text,
        changed_at -> UtcInstant,
        alerted_at -> Nullable<UtcInstant>,
        alerted_status -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    audit_log (id) {
        id -> BigInt,
        at -> UtcInstant,
        actor_id -> Nullable<BigInt>,
        actor_telegram_id -> Nullable<BigInt>,
        action -> Text,
        target_user_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        data -> Text,
        correlation_id -> Nullable<Text>,
    }
}

diesel::joinable!(users -> departments (department_id));
diesel::joinable!(owner_settings -> users (owner_id));
diesel::joinable!(availability_slots -> users (owner_id));
diesel::joinable!(blocked_periods -> users (owner_id));
diesel::joinable!(meetings -> users (manager_id));
diesel::joinable!(meeting_participants -> meetings (meeting_id));
diesel::joinable!(meeting_participants -> users (user_id));
diesel::joinable!(slot_claims -> users (owner_id));
diesel::joinable!(slot_claims -> meetings (meeting_id));
diesel::joinable!(slot_claims -> blocked_periods (blocked_period_id));
diesel::joinable!(booking_quotas -> users (manager_id));
diesel::joinable!(reminders -> meetings (meeting_id));
diesel::joinable!(reminders -> users (recipient_id));
diesel::joinable!(broadcasts -> users (author_id));
diesel::joinable!(outbox_messages -> users (recipient_id));
diesel::joinable!(outbox_messages -> broadcasts (broadcast_id));
diesel::joinable!(google_connections -> users (user_id));
diesel::joinable!(oauth_states -> users (user_id));
diesel::joinable!(busy_intervals -> users (user_id));
diesel::joinable!(audit_log -> users (actor_id));

diesel::allow_tables_to_appear_in_same_query!(
    departments,
    users,
    owner_settings,
    availability_slots,
    blocked_periods,
    booking_settings,
    meetings,
    meeting_participants,
    slot_claims,
    booking_quotas,
    reminders,
    broadcasts,
    outbox_messages,
    dialogue_states,
    handled_updates,
    inbound_updates,
    google_connections,
    oauth_states,
    busy_intervals,
    periodic_runs,
    job_runs,
    health_states,
    audit_log,
    telegram_budget,
    chat_send_slots,
    leases,
);

diesel::table! {
    telegram_budget (lane) {
        lane -> Text,
        next_at_us -> BigInt,
    }
}

diesel::table! {
    chat_send_slots (chat_id) {
        chat_id -> BigInt,
        next_at_us -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> UtcInstant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    diag_requests (id) {
        id -> BigInt,
        requested_by -> BigInt,
        chat_id -> BigInt,
        kind -> Text,
        fix -> Nullable<Text>,
        state -> Text,
        claimed_by -> Nullable<Text>,
        correlation_id -> Nullable<Text>,
        created_at -> UtcInstant,
        claimed_at -> Nullable<UtcInstant>,
        done_at -> Nullable<UtcInstant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::UtcInstant;

    poller_status (name) {
        name -> Text,
        holder -> Text,
        last_success_at -> Nullable<UtcInstant>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<UtcInstant>,
        last_conflict_at -> Nullable<UtcInstant>,
        conflicts -> BigInt,
        updated_at -> UtcInstant,
    }
}
