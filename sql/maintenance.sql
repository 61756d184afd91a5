-- Predictive maintenance in Flink SQL: the pipeline of jobs/maintenance.py, from SQL.
--
--   flink-agents sql run sql/maintenance.sql            (a local MiniCluster; Ctrl-C stops)
--   flink-agents sql run sql/maintenance.sql --dry-run  (checks everything, prints the plan)
--
-- Reads sensor readings (JSON: machine_id, ts in epoch seconds, five metrics) from
-- `maintenance.readings`, computes features per machine in ten-minute windows of reading
-- time, scores each window against the machine's previous twenty windows, and hands every
-- window that stands out to the maintenance planner, which reads the warehouse and opens or
-- updates a work order (both MCP servers over stdio). One row per anomaly goes to
-- `maintenance.sql-actions`.
--
-- The detector here is plain Flink SQL: a z-score per metric against a rolling baseline
-- (leave-one-out mean and standard deviation over an OVER window). It judges the metrics
-- one by one, where flink_agents.AnomalyDetector (jobs/maintenance.py) judges them jointly
-- and opens one incident per fault; here every anomalous window reaches the planner, whose
-- memory of the machine turns the later ones into updates of the same work order.
--
-- Settings from the environment: MAINT_MODEL_BASE_URL and MAINT_MODEL (the model simulator
-- of `make demo-maintenance`, vLLM, Ollama, ...; OpenAI otherwise), MAINT_WAREHOUSE (DuckDB
-- file) and MAINT_WORKORDERS (SQLite file), MAINT_READINGS_TOPIC and MAINT_ACTIONS_TOPIC.

CREATE TABLE machine_readings (
  machine_id STRING,
  ts DOUBLE,
  vibration DOUBLE,
  temperature DOUBLE,
  pressure DOUBLE,
  `current` DOUBLE,
  rpm DOUBLE,
  reading_time AS TO_TIMESTAMP_LTZ(CAST(ts * 1000 AS BIGINT), 3),
  WATERMARK FOR reading_time AS reading_time - INTERVAL '1' MINUTE
) WITH (
  'topic' = '${MAINT_READINGS_TOPIC:-maintenance.readings}'
);

CREATE TABLE maintenance_actions (
  anomaly_id STRING,
  machine_id STRING,
  lead_metric STRING,
  action STRING,
  work_order_id STRING,
  priority STRING,
  reason STRING,
  status STRING
) WITH (
  'topic' = '${MAINT_ACTIONS_TOPIC:-maintenance.sql-actions}'
);

-- Features: the mean of each metric over ten minutes of readings (ten readings).
CREATE TEMPORARY VIEW machine_windows AS
SELECT
  machine_id,
  window_time,
  MAX(ts) AS last_ts,
  AVG(vibration) AS vibration,
  AVG(temperature) AS temperature,
  AVG(pressure) AS pressure,
  AVG(`current`) AS `current`,
  AVG(rpm) AS rpm
FROM TABLE(TUMBLE(TABLE machine_readings, DESCRIPTOR(reading_time), INTERVAL '10' MINUTES))
GROUP BY machine_id, window_start, window_end, window_time;

-- Running sums over the window and the twenty before it; the baseline leaves the window out.
CREATE TEMPORARY VIEW machine_sums AS
SELECT
  machine_id, last_ts, vibration, temperature, pressure, `current`, rpm,
  COUNT(*) OVER w - 1 AS n,
  SUM(vibration) OVER w AS s_vibration, SUM(vibration * vibration) OVER w AS q_vibration,
  SUM(temperature) OVER w AS s_temperature, SUM(temperature * temperature) OVER w AS q_temperature,
  SUM(pressure) OVER w AS s_pressure, SUM(pressure * pressure) OVER w AS q_pressure,
  SUM(`current`) OVER w AS s_current, SUM(`current` * `current`) OVER w AS q_current,
  SUM(rpm) OVER w AS s_rpm, SUM(rpm * rpm) OVER w AS q_rpm
FROM machine_windows
WINDOW w AS (PARTITION BY machine_id ORDER BY window_time ROWS BETWEEN 20 PRECEDING AND CURRENT ROW);

CREATE TEMPORARY VIEW machine_baselines AS
SELECT
  machine_id, last_ts, n, vibration, temperature, pressure, `current`, rpm,
  (s_vibration - vibration) / n AS e_vibration,
  (s_temperature - temperature) / n AS e_temperature,
  (s_pressure - pressure) / n AS e_pressure,
  (s_current - `current`) / n AS e_current,
  (s_rpm - rpm) / n AS e_rpm,
  (q_vibration - vibration * vibration) / n AS m_vibration,
  (q_temperature - temperature * temperature) / n AS m_temperature,
  (q_pressure - pressure * pressure) / n AS m_pressure,
  (q_current - `current` * `current`) / n AS m_current,
  (q_rpm - rpm * rpm) / n AS m_rpm
FROM machine_sums
WHERE n >= 20;

CREATE TEMPORARY VIEW machine_scores AS
SELECT
  machine_id, last_ts, vibration, temperature, pressure, `current`, rpm,
  e_vibration, e_temperature, e_pressure, e_current, e_rpm,
  (vibration - e_vibration) / SQRT(GREATEST(m_vibration - e_vibration * e_vibration, 1e-12)) AS z_vibration,
  (temperature - e_temperature) / SQRT(GREATEST(m_temperature - e_temperature * e_temperature, 1e-12)) AS z_temperature,
  (pressure - e_pressure) / SQRT(GREATEST(m_pressure - e_pressure * e_pressure, 1e-12)) AS z_pressure,
  (`current` - e_current) / SQRT(GREATEST(m_current - e_current * e_current, 1e-12)) AS z_current,
  (rpm - e_rpm) / SQRT(GREATEST(m_rpm - e_rpm * e_rpm, 1e-12)) AS z_rpm
FROM machine_baselines;

-- A window with a metric six standard deviations from its baseline is an anomaly, named
-- by the machine and the window's last reading time (the same when the readings are replayed).
CREATE TEMPORARY VIEW machine_anomalies AS
SELECT
  machine_id,
  CONCAT(machine_id, '/', CAST(CAST(last_ts AS BIGINT) AS STRING)) AS anomaly_id,
  last_ts AS detected_at,
  score,
  CASE score
    WHEN ABS(z_vibration) THEN 'vibration'
    WHEN ABS(z_temperature) THEN 'temperature'
    WHEN ABS(z_pressure) THEN 'pressure'
    WHEN ABS(z_current) THEN 'current'
    ELSE 'rpm' END AS lead_metric,
  CASE score
    WHEN ABS(z_vibration) THEN vibration
    WHEN ABS(z_temperature) THEN temperature
    WHEN ABS(z_pressure) THEN pressure
    WHEN ABS(z_current) THEN `current`
    ELSE rpm END AS lead_value,
  CASE score
    WHEN ABS(z_vibration) THEN e_vibration
    WHEN ABS(z_temperature) THEN e_temperature
    WHEN ABS(z_pressure) THEN e_pressure
    WHEN ABS(z_current) THEN e_current
    ELSE e_rpm END AS lead_expected
FROM (
  SELECT *,
    GREATEST(ABS(z_vibration), ABS(z_temperature), ABS(z_pressure), ABS(z_current), ABS(z_rpm)) AS score
  FROM machine_scores
)
WHERE score > 6;

-- Definitions are kept in the catalog; this file replaces them on every run.
DROP AGENT IF EXISTS maintenance_planner;
DROP TOOL IF EXISTS warehouse_tools;
DROP TOOL IF EXISTS workorder_tools;
DROP MODEL IF EXISTS maintenance_model;
DROP CONNECTION IF EXISTS maintenance_model_api;
DROP CONNECTION IF EXISTS plant_warehouse;
DROP CONNECTION IF EXISTS plant_workorders;

CREATE CONNECTION maintenance_model_api WITH (
  'type' = 'openai',
  'endpoint' = '${MAINT_MODEL_BASE_URL:-https://api.openai.com/v1}',
  'api-key-env' = 'OPENAI_API_KEY'
);

CREATE MODEL maintenance_model
  COMMENT 'The maintenance planner model'
  WITH (
    'provider' = 'openai',
    'openai.connection' = 'maintenance_model_api',
    'openai.model_version' = '${MAINT_MODEL:-gpt-4o-mini}',
    'openai.temperature' = '0',
    'openai.timeout' = '30s'
  );

-- The warehouse (read-only SQL over DuckDB) and the work orders, as MCP servers each Flink
-- worker starts (stdio).
CREATE CONNECTION plant_warehouse WITH (
  'type' = 'mcp_server',
  'transport-type' = 'STDIO',
  'endpoint' = '${PYTHON} -m jobs.tools.warehouse_server --transport stdio --db ${MAINT_WAREHOUSE:-.flink-agents/demo/plant.duckdb}'
);

CREATE CONNECTION plant_workorders WITH (
  'type' = 'mcp_server',
  'transport-type' = 'STDIO',
  'endpoint' = '${PYTHON} -m jobs.tools.workorder_server --transport stdio --db ${MAINT_WORKORDERS:-.flink-agents/demo/workorders.db} --allow create,update,lookup'
);

CREATE TOOL warehouse_tools
  USING CONNECTION plant_warehouse
  COMMENT 'Read-only SQL over assets, maintenance history and spare parts'
  WITH ('type' = 'mcp', 'allowed_tools' = 'list_tables,query', 'request_timeout' = '30');

CREATE TOOL workorder_tools
  USING CONNECTION plant_workorders
  COMMENT 'Work orders: create, update, look up (idempotent by request_id)'
  WITH (
    'type' = 'mcp',
    'allowed_tools' = 'create_work_order,update_work_order,lookup_work_orders',
    'request_timeout' = '30'
  );

CREATE AGENT maintenance_planner
  USING MODEL maintenance_model
  USING PROMPT 'You plan maintenance for a plant. Each message is an anomaly the sensors of one machine
showed: its score, the metric that contributed most (with its value and expected value).
Vibration points to bearing wear, temperature to overheating, falling pressure with rising
current to a leak.
1. With the warehouse `query` tool (read-only SQL) read the machine''s asset record
   (criticality A is most critical), its maintenance history and the spare parts for the
   likely failure mode (stock and lead time).
2. If an earlier anomaly of this machine in this conversation already opened a work order,
   update that work order (`update_work_order`: a note, a higher priority if it got worse);
   otherwise open one with `create_work_order`, using the anomaly_id as request_id.
3. Priority: P1 for criticality A, P2 for B, P3 for C; one step more urgent when the part
   is out of stock.
Answer with the action taken, the work order id, its priority and a one-sentence reason.'
  USING TOOLS warehouse_tools, workorder_tools
  COMMENT 'Opens and updates work orders for machines whose sensors show an anomaly.'
  WITH (
    'max_iterations' = '6',
    'memory.window' = '20',
    'memory.ttl' = '30d',
    'call_timeout' = '30s',
    'max_in_flight' = '64',
    'output.schema' = '{"title": "MaintenanceAction", "type": "object",
      "properties": {
        "action": {"enum": ["CREATED", "UPDATED", "NONE"]},
        "work_order_id": {"type": "string"},
        "priority": {"enum": ["P1", "P2", "P3", "P4"]},
        "reason": {"type": "string", "description": "One sentence naming the facts behind the action."}},
      "required": ["action", "reason"]}'
  );

INSERT INTO maintenance_actions
SELECT
  a.anomaly_id,
  a.machine_id,
  a.lead_metric,
  JSON_VALUE(r.response, '$.action') AS action,
  JSON_VALUE(r.response, '$.work_order_id') AS work_order_id,
  JSON_VALUE(r.response, '$.priority') AS priority,
  JSON_VALUE(r.response, '$.reason') AS reason,
  r.status
FROM machine_anomalies AS a,
  LATERAL TABLE(AI_RUN_AGENT(
    'maintenance_planner',
    JSON_OBJECT(
      KEY 'anomaly_id' VALUE a.anomaly_id,
      KEY 'machine_id' VALUE a.machine_id,
      KEY 'score' VALUE a.score,
      KEY 'detected_at' VALUE a.detected_at,
      KEY 'contributors' VALUE JSON_ARRAY(JSON_OBJECT(
        KEY 'metric' VALUE a.lead_metric,
        KEY 'value' VALUE ROUND(a.lead_value, 3),
        KEY 'expected' VALUE ROUND(a.lead_expected, 3)))),
    a.anomaly_id,
    MAP['memory.key', a.machine_id])) AS r(status, response);
