-- The fraud demo's tables. A table without 'connector' is a Kafka topic of the same name
-- (or the 'topic' given) on the configured broker, with JSON values, as in Confluent Cloud.

CREATE TABLE transactions (
  transaction_id STRING,
  card_id STRING,
  amount DOUBLE,
  currency STRING,
  merchant_id STRING,
  country STRING,
  `timestamp` STRING
) WITH (
  'topic' = '${FRAUD_TRANSACTIONS_TOPIC:-transactions}'
);

CREATE TABLE decisions (
  transaction_id STRING,
  card_id STRING,
  decision STRING,
  reason STRING,
  status STRING
) WITH (
  'topic' = '${FRAUD_DECISIONS_TOPIC:-decisions}'
);
