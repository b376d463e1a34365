package org.rmq.flink.table;

import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * The validated sink options of one table: NameServer, topic, producer group, default tag
 * ({@code null} = none), delivery guarantee, send retries, request timeout (ms) and
 * transaction timeout (s).
 */
final class SinkSettings {
    final String namesrv;
    final String topic;
    final String group;
    final String tag;
    final DeliveryGuarantee guarantee;
    final int retries;
    final long timeoutMs;
    final long transactionTimeoutSeconds;

    SinkSettings(String namesrv, String topic, String group, String tag, DeliveryGuarantee guarantee,
            int retries, long timeoutMs, long transactionTimeoutSeconds) {
        this.namesrv = namesrv;
        this.topic = topic;
        this.group = group;
        this.tag = tag;
        this.guarantee = guarantee;
        this.retries = retries;
        this.timeoutMs = timeoutMs;
        this.transactionTimeoutSeconds = transactionTimeoutSeconds;
    }
}
