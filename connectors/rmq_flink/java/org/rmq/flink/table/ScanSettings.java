package org.rmq.flink.table;

import java.util.List;

import org.apache.flink.table.data.RowData;
import org.rmq.flink.OffsetSpec;
import org.rmq.flink.RocketMQSource;

/**
 * The validated scan options of one table: NameServer, topics, consumer group, starting and
 * stopping offsets ({@code null} stopping = unbounded), filter type ({@code TAG} or
 * {@code SQL92}) and expression, and the reader tuning (messages per pull, poll interval and
 * request timeout in ms, offset commit on checkpoint).
 */
final class ScanSettings {
    final String namesrv;
    final List<String> topics;
    final String group;
    final OffsetSpec starting;
    final OffsetSpec stopping;
    final String filterType;
    final String filterExpression;
    final int batchSize;
    final long pollIntervalMs;
    final long timeoutMs;
    final boolean commitOffsets;

    ScanSettings(String namesrv, List<String> topics, String group, OffsetSpec starting,
            OffsetSpec stopping, String filterType, String filterExpression, int batchSize,
            long pollIntervalMs, long timeoutMs, boolean commitOffsets) {
        this.namesrv = namesrv;
        this.topics = topics;
        this.group = group;
        this.starting = starting;
        this.stopping = stopping;
        this.filterType = filterType;
        this.filterExpression = filterExpression;
        this.batchSize = batchSize;
        this.pollIntervalMs = pollIntervalMs;
        this.timeoutMs = timeoutMs;
        this.commitOffsets = commitOffsets;
    }

    /** Sets everything but the deserializer on {@code builder}. */
    void applyTo(RocketMQSource.Builder<RowData> builder) {
        builder.setNamesrv(namesrv).setGroup(group).setStartingOffsets(starting);
        for (String topic : topics) {
            builder.addTopic(topic);
        }
        if (stopping != null) {
            builder.setBounded(stopping);
        }
        builder.setFilter(filterType, filterExpression).setBatchSize(batchSize)
                .setPollIntervalMs(pollIntervalMs).setTimeoutMs(timeoutMs)
                .setCommitOffsetsOnCheckpoint(commitOffsets);
    }
}
