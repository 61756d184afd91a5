-- Fraud triage in Flink SQL: the agent of jobs/fraud_triage.py, defined and run from SQL.
--
--   flink-agents sql run sql/fraud_triage.sql            (a local MiniCluster; Ctrl-C stops)
--   flink-agents sql run sql/fraud_triage.sql --dry-run  (checks everything, prints the plan)
--
-- Reads `transactions` (JSON, keyed by card_id) and writes one row per transaction to
-- `decisions`. The model is the server at FRAUD_MODEL_BASE_URL (the model simulator of
-- `make demo`, vLLM, Ollama, ...) or OpenAI; the MCP tool server reads FRAUD_DB.

INCLUDE 'fraud_tables.sql';

-- Definitions are kept in the catalog; this file replaces them on every run.
DROP AGENT IF EXISTS fraud_triage;
DROP TOOL IF EXISTS customer_tools;
DROP MODEL IF EXISTS fraud_model;
DROP CONNECTION IF EXISTS fraud_model_api;
DROP CONNECTION IF EXISTS customer_db;

CREATE CONNECTION fraud_model_api WITH (
  'type' = 'openai',
  'endpoint' = '${FRAUD_MODEL_BASE_URL:-https://api.openai.com/v1}',
  'api-key-env' = 'OPENAI_API_KEY'
);

CREATE MODEL fraud_model
  INPUT (prompt STRING)
  OUTPUT (response STRING)
  COMMENT 'The analyst model'
  WITH (
    'provider' = 'openai',
    'task' = 'text_generation',
    'openai.connection' = 'fraud_model_api',
    'openai.model_version' = '${FRAUD_MODEL:-gpt-4o-mini}',
    'openai.temperature' = '0',
    'openai.timeout' = '30s'
  );

-- The customer and merchant database, as an MCP server each Flink worker starts (stdio).
CREATE CONNECTION customer_db WITH (
  'type' = 'mcp_server',
  'transport-type' = 'STDIO',
  'endpoint' = '${PYTHON} -m jobs.tools.customer_server --transport stdio --db ${FRAUD_DB:-.flink-agents/demo/fraud.db}'
);

CREATE TOOL customer_tools
  USING CONNECTION customer_db
  COMMENT 'Card profiles, recent transactions and merchant risk'
  WITH (
    'type' = 'mcp',
    'allowed_tools' = 'customer_profile,recent_transactions,merchant_risk',
    'request_timeout' = '30'
  );

CREATE AGENT fraud_triage
  USING MODEL fraud_model
  USING PROMPT 'You triage card transactions for fraud. For each transaction decide:
- APPROVE: it fits the card''s habits (amount, merchants, countries) and the merchant is sound;
- REVIEW: something is unusual (much larger than usual, a new country, several transactions
  within minutes, a merchant of medium risk) and a person should look;
- BLOCK: a high-risk merchant, or a large amount in a place new for the card.
Use the tools: customer_profile, recent_transactions and merchant_risk. Earlier transactions
of the same card are in this conversation. Give a one-sentence reason with the facts used.'
  USING TOOLS customer_tools
  COMMENT 'Decides APPROVE, REVIEW or BLOCK for card transactions.'
  WITH (
    'max_iterations' = '6',
    'memory.window' = '20',
    'memory.ttl' = '7d',
    'call_timeout' = '30s',
    'max_in_flight' = '256',
    'output.schema' = '{"title": "Decision", "type": "object",
      "properties": {
        "decision": {"enum": ["APPROVE", "REVIEW", "BLOCK"]},
        "reason": {"type": "string", "description": "One sentence naming the facts behind the decision."}},
      "required": ["decision", "reason"]}'
  );

INSERT INTO decisions
SELECT
  t.transaction_id,
  t.card_id,
  JSON_VALUE(r.response, '$.decision') AS decision,
  JSON_VALUE(r.response, '$.reason') AS reason,
  r.status
FROM transactions AS t,
  LATERAL TABLE(AI_RUN_AGENT(
    'fraud_triage',
    JSON_OBJECT(
      KEY 'transaction_id' VALUE t.transaction_id, KEY 'card_id' VALUE t.card_id,
      KEY 'amount' VALUE t.amount, KEY 'currency' VALUE t.currency,
      KEY 'merchant_id' VALUE t.merchant_id, KEY 'country' VALUE t.country,
      KEY 'timestamp' VALUE t.`timestamp`),
    t.transaction_id,
    MAP['memory.key', t.card_id])) AS r(status, response);
