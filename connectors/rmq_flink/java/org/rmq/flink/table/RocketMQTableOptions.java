package org.rmq.flink.table;

import static org.apache.flink.configuration.ConfigOptions.key;

import java.time.Duration;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * The {@code WITH} options of the {@code 'connector' = 'rocketmq'} table connector. They mirror
 * the DataStream builders (docs/flink.md has the table). Durations use Flink's syntax
 * ({@code '3 s'}, {@code '100 ms'}).
 */
public final class RocketMQTableOptions {
    private RocketMQTableOptions() {
    }

    /** Where a scan starts. */
    public enum StartupMode {
        EARLIEST("earliest"),
        LATEST("latest"),
        GROUP_OFFSETS("group-offsets"),
        TIMESTAMP("timestamp"),
        SPECIFIC_OFFSETS("specific-offsets");

        private final String value;

        StartupMode(String value) {
            this.value = value;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    /** Where a bounded scan stops (exclusive); {@code unbounded} never stops. */
    public enum BoundedMode {
        UNBOUNDED("unbounded"),
        LATEST("latest"),
        TIMESTAMP("timestamp"),
        SPECIFIC_OFFSETS("specific-offsets");

        private final String value;

        BoundedMode(String value) {
            this.value = value;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    public static final ConfigOption<String> NAMESRV = key("namesrv").stringType().noDefaultValue()
            .withDescription("NameServer address list, host:port or host:port;host:port.");

    public static final ConfigOption<String> TOPIC = key("topic").stringType().noDefaultValue()
            .withDescription("Topic to read (several separated by ';') or to write (exactly one).");

    public static final ConfigOption<String> GROUP = key("group").stringType().noDefaultValue()
            .withDescription("Consumer group of a scan (committed offsets) and producer group of a sink.");

    public static final ConfigOption<StartupMode> SCAN_STARTUP_MODE = key("scan.startup.mode")
            .enumType(StartupMode.class).defaultValue(StartupMode.GROUP_OFFSETS)
            .withDescription("earliest, latest, group-offsets (else earliest), timestamp or specific-offsets.");

    public static final ConfigOption<Long> SCAN_STARTUP_TIMESTAMP_MILLIS =
            key("scan.startup.timestamp-millis").longType().noDefaultValue()
                    .withDescription("Epoch ms for startup mode 'timestamp'.");

    public static final ConfigOption<String> SCAN_STARTUP_SPECIFIC_OFFSETS =
            key("scan.startup.specific-offsets").stringType().noDefaultValue()
                    .withDescription("For startup mode 'specific-offsets': 'queue:0,offset:42;queue:1,offset:7' "
                            + "(optional topic:... and broker:... per entry); other queues start at the earliest.");

    public static final ConfigOption<BoundedMode> SCAN_BOUNDED_MODE = key("scan.bounded.mode")
            .enumType(BoundedMode.class).defaultValue(BoundedMode.UNBOUNDED)
            .withDescription("unbounded, latest, timestamp or specific-offsets.");

    public static final ConfigOption<Long> SCAN_BOUNDED_TIMESTAMP_MILLIS =
            key("scan.bounded.timestamp-millis").longType().noDefaultValue()
                    .withDescription("Epoch ms for bounded mode 'timestamp': stop before the first message "
                            + "stored at or after it.");

    public static final ConfigOption<String> SCAN_BOUNDED_SPECIFIC_OFFSETS =
            key("scan.bounded.specific-offsets").stringType().noDefaultValue()
                    .withDescription("For bounded mode 'specific-offsets', same syntax as the startup offsets "
                            + "(exclusive); other queues stop at the latest offset.");

    public static final ConfigOption<String> TAG = key("tag").stringType().noDefaultValue()
            .withDescription("Tag filter of a scan, e.g. 'TagA || TagB'.");

    public static final ConfigOption<String> SQL_FILTER = key("sql-filter").stringType().noDefaultValue()
            .withDescription("SQL92 filter of a scan over message properties (broker: enablePropertyFilter).");

    public static final ConfigOption<Boolean> SCAN_COMMIT_OFFSETS =
            key("scan.commit-offsets-on-checkpoint").booleanType().defaultValue(false)
                    .withDescription("Write each completed checkpoint's offsets to the consumer group.");

    public static final ConfigOption<Integer> SCAN_BATCH_SIZE = key("scan.batch-size").intType()
            .defaultValue(32).withDescription("Messages per pull request.");

    public static final ConfigOption<Duration> SCAN_POLL_INTERVAL = key("scan.poll-interval")
            .durationType().defaultValue(Duration.ofMillis(100))
            .withDescription("How long an idle reader waits before pulling again.");

    public static final ConfigOption<Duration> REQUEST_TIMEOUT = key("request-timeout").durationType()
            .defaultValue(Duration.ofSeconds(3))
            .withDescription("Bound of every request (connect + answer) to the NameServer and brokers.");

    public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE =
            key("sink.delivery-guarantee").enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
                    .withDescription("at-least-once, exactly-once (transactional, committed on checkpoint "
                            + "completion) or none (same as at-least-once).");

    public static final ConfigOption<String> SINK_TAG = key("sink.tag").stringType().noDefaultValue()
            .withDescription("Tag of every written message (a 'tags' metadata column overrides it).");

    public static final ConfigOption<Integer> SINK_RETRIES = key("sink.retries").intType().defaultValue(2)
            .withDescription("Further attempts on another queue when a send fails.");

    public static final ConfigOption<Duration> SINK_TRANSACTION_TIMEOUT =
            key("sink.transaction-timeout").durationType().defaultValue(Duration.ofSeconds(900))
                    .withDescription("Exactly-once: how long a half message may wait for its checkpoint.");
}
