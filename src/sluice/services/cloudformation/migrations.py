"""CloudFormation's schema steps (the records that use them are in records.py). A module of its
own so that sluice.schema, imported at start-up, does not import CloudFormation's records."""

from __future__ import annotations

from ...store.db import Migration

_CFN_0001 = Migration("cloudformation-0001", """
CREATE TABLE cfn_stacks (
    stack_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created REAL NOT NULL,
    updated REAL,
    deleted REAL,
    body TEXT NOT NULL,               -- the template as the caller gave it
    template TEXT NOT NULL,           -- the processed template (JSON), transforms expanded
    parameters TEXT NOT NULL,         -- [{"ParameterKey", "ParameterValue"}] effective values
    capabilities TEXT NOT NULL,
    tags TEXT NOT NULL,
    outputs TEXT NOT NULL,            -- resolved outputs, as DescribeStacks shows them
    options TEXT NOT NULL,            -- DisableRollback, RoleARN, NotificationARNs, ...
    previous TEXT,                    -- during an update: the stack's former body/template/parameters
    change_set_id TEXT,
    notified INTEGER NOT NULL DEFAULT 0  -- the last event sent to the stack's NotificationARNs
);
CREATE INDEX cfn_stacks_name ON cfn_stacks (account, region, name);
CREATE TABLE cfn_resources (
    stack_id TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    physical_id TEXT,
    properties TEXT,                  -- resolved properties it was deployed with
    attributes TEXT NOT NULL DEFAULT '{}',
    ref_value TEXT,
    updated REAL NOT NULL,
    name_suffix TEXT NOT NULL,
    token TEXT,                       -- the running step's request token
    wait_until REAL,                  -- a step that waits (custom resource): its deadline
    wait_reason TEXT,                 -- ... and the reason it fails with if the deadline passes
    old TEXT,                         -- during an update: the deployed state before it
    replaced INTEGER NOT NULL DEFAULT 0,
    policy TEXT NOT NULL DEFAULT '{}', -- DeletionPolicy / UpdateReplacePolicy
    PRIMARY KEY (stack_id, logical_id)
);
CREATE TABLE cfn_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    physical_id TEXT,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    properties TEXT,
    ts REAL NOT NULL
);
CREATE INDEX cfn_events_stack ON cfn_events (stack_id, seq);
CREATE TABLE cfn_change_sets (
    change_set_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stack_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    execution_status TEXT NOT NULL,
    created REAL NOT NULL,
    body TEXT NOT NULL,
    template TEXT NOT NULL,
    parameters TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    tags TEXT NOT NULL,
    changes TEXT NOT NULL,
    description TEXT
);
CREATE INDEX cfn_change_sets_stack ON cfn_change_sets (stack_id, name);
CREATE TABLE cfn_exports (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    stack_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE cfn_imports (
    stack_id TEXT NOT NULL,
    export_name TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    PRIMARY KEY (stack_id, export_name)
);
CREATE TABLE cfn_work (
    stack_id TEXT PRIMARY KEY,
    due REAL NOT NULL,
    woken INTEGER NOT NULL DEFAULT 0  -- woken (a custom resource answered) since its run began
);
""")

MIGRATIONS = (_CFN_0001,)
