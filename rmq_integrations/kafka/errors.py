"""kafka-python's exception classes (``kafka.errors``), for code that catches them by name.

The hierarchy follows kafka-python 3.0.12: :class:`KafkaError` is the root; ``retriable`` and
``invalid_metadata`` are class attributes; broker answers are :class:`BrokerResponseError`
subclasses carrying the Kafka protocol ``errno`` and ``message`` (the upper-case code name).
:func:`for_code` maps an errno to its class. ``NoBrokersAvailable`` (kafka-python 2.x) is kept
for older callers.

Two deliberate additions: :class:`KafkaConfigurationError` is also a ``ValueError`` (kafka-python's
producer raises ``ValueError`` for unknown configs, its consumer ``KafkaConfigurationError``; the
shim raises one class that satisfies both), and :class:`NoBrokersAvailable` is also a
:class:`KafkaConnectionError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [  # the broker errors are added below, from the table
    "AuthorizationError",
    "BrokerResponseError",
    "Cancelled",
    "CommitFailedError",
    "CorrelationIdError",
    "IllegalArgumentError",
    "IllegalStateError",
    "InvalidMetadataError",
    "InvalidReceiveError",
    "KafkaConfigurationError",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaProtocolError",
    "KafkaTimeoutError",
    "KafkaUnavailableError",
    "LogTruncationError",
    "MetadataEmptyBrokerList",
    "NoBrokersAvailable",
    "NoOffsetForPartitionError",
    "NodeNotReadyError",
    "QuotaViolationError",
    "RetriableError",
    "StaleMetadata",
    "TooManyInFlightRequests",
    "TransactionAbortedError",
    "UnknownBrokerIdError",
    "UnrecognizedBrokerVersion",
    "UnsupportedCodecError",
    "for_code",
]


class KafkaError(Exception):
    """Root of every shim error; ``retriable`` says whether trying again may succeed."""

    retriable = False
    invalid_metadata = False

    def __str__(self) -> str:
        if not self.args:
            return type(self).__name__
        return f"{type(self).__name__}: {super().__str__()}"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.args == getattr(other, "args", None)

    def __hash__(self) -> int:
        return hash((type(self), self.args))


class RetriableError(KafkaError):
    retriable = True


class InvalidMetadataError(RetriableError):
    invalid_metadata = True


class Cancelled(RetriableError):
    pass


class CommitFailedError(KafkaError):
    """A commit the group no longer accepts (the partitions moved to another member)."""

    def __init__(self, *args: Any) -> None:
        if not args:
            args = (
                "Commit cannot be completed since the group has already rebalanced and "
                "assigned the partitions to another member.",
            )
        super().__init__(*args)


class IllegalArgumentError(KafkaError):
    pass


class IllegalStateError(KafkaError):
    pass


class KafkaConfigurationError(KafkaError, ValueError):
    """An unknown config key or a value the shim cannot use."""


class KafkaConnectionError(InvalidMetadataError):
    pass


class NoBrokersAvailable(KafkaConnectionError):
    """kafka-python 2.x name: no NameServer (bootstrap server) answered."""


class KafkaUnavailableError(KafkaError):
    """kafka-python 1.x/2.x name kept for old callers."""


class KafkaProtocolError(KafkaError):
    pass


class CorrelationIdError(RetriableError, KafkaProtocolError):
    pass


class InvalidReceiveError(KafkaProtocolError):
    pass


class KafkaTimeoutError(RetriableError):
    pass


class MetadataEmptyBrokerList(RetriableError):
    pass


class NoOffsetForPartitionError(KafkaError):
    pass


class LogTruncationError(KafkaError):
    def __init__(self, divergent_offsets: Any = None, *args: Any) -> None:
        self.divergent_offsets = divergent_offsets
        super().__init__(*args or (f"Detected truncated partitions: {divergent_offsets}",))


class NodeNotReadyError(RetriableError):
    pass


class UnknownBrokerIdError(KafkaError):
    pass


class QuotaViolationError(KafkaError):
    pass


class StaleMetadata(InvalidMetadataError):
    pass


class TooManyInFlightRequests(RetriableError):
    pass


class UnrecognizedBrokerVersion(KafkaError):
    pass


class UnsupportedCodecError(KafkaError):
    pass


class TransactionAbortedError(KafkaError):
    pass


class BrokerResponseError(KafkaError):
    """An error code a Kafka broker would answer; ``errno`` is the protocol error code."""

    errno: int | None = None
    message: str | None = None
    description: str | None = None

    def __str__(self) -> str:
        return f"[Error {self.errno}] {super().__str__()}"


class AuthorizationError(BrokerResponseError):
    pass


# (class name, errno, protocol name, kind): kind "" = plain, "R" = retriable,
# "M" = retriable and invalidates metadata, "A" = authorization. Kafka protocol error codes.
_BROKER_ERRORS: tuple[tuple[str, int, str, str], ...] = (
    ("UnknownError", -1, "UNKNOWN", ""),
    ("NoError", 0, "NO_ERROR", ""),
    ("OffsetOutOfRangeError", 1, "OFFSET_OUT_OF_RANGE", ""),
    ("CorruptRecordError", 2, "CORRUPT_MESSAGE", ""),
    ("UnknownTopicOrPartitionError", 3, "UNKNOWN_TOPIC_OR_PARTITION", "M"),
    ("InvalidFetchRequestError", 4, "INVALID_FETCH_SIZE", ""),
    ("LeaderNotAvailableError", 5, "LEADER_NOT_AVAILABLE", "M"),
    ("NotLeaderForPartitionError", 6, "NOT_LEADER_FOR_PARTITION", "M"),
    ("RequestTimedOutError", 7, "REQUEST_TIMED_OUT", "R"),
    ("BrokerNotAvailableError", 8, "BROKER_NOT_AVAILABLE", ""),
    ("ReplicaNotAvailableError", 9, "REPLICA_NOT_AVAILABLE", "M"),
    ("MessageSizeTooLargeError", 10, "MESSAGE_SIZE_TOO_LARGE", ""),
    ("StaleControllerEpochError", 11, "STALE_CONTROLLER_EPOCH", ""),
    ("OffsetMetadataTooLargeError", 12, "OFFSET_METADATA_TOO_LARGE", ""),
    ("NetworkExceptionError", 13, "NETWORK_EXCEPTION", "M"),
    ("CoordinatorLoadInProgressError", 14, "COORDINATOR_LOAD_IN_PROGRESS", "R"),
    ("CoordinatorNotAvailableError", 15, "COORDINATOR_NOT_AVAILABLE", "R"),
    ("NotCoordinatorError", 16, "NOT_COORDINATOR", "R"),
    ("InvalidTopicError", 17, "INVALID_TOPIC", ""),
    ("RecordListTooLargeError", 18, "RECORD_LIST_TOO_LARGE", ""),
    ("NotEnoughReplicasError", 19, "NOT_ENOUGH_REPLICAS", "R"),
    ("NotEnoughReplicasAfterAppendError", 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "R"),
    ("InvalidRequiredAcksError", 21, "INVALID_REQUIRED_ACKS", ""),
    ("IllegalGenerationError", 22, "ILLEGAL_GENERATION", ""),
    ("InconsistentGroupProtocolError", 23, "INCONSISTENT_GROUP_PROTOCOL", ""),
    ("InvalidGroupIdError", 24, "INVALID_GROUP_ID", ""),
    ("UnknownMemberIdError", 25, "UNKNOWN_MEMBER_ID", ""),
    ("InvalidSessionTimeoutError", 26, "INVALID_SESSION_TIMEOUT", ""),
    ("RebalanceInProgressError", 27, "REBALANCE_IN_PROGRESS", ""),
    ("InvalidCommitOffsetSizeError", 28, "INVALID_COMMIT_OFFSET_SIZE", ""),
    ("TopicAuthorizationFailedError", 29, "TOPIC_AUTHORIZATION_FAILED", "A"),
    ("GroupAuthorizationFailedError", 30, "GROUP_AUTHORIZATION_FAILED", "A"),
    ("ClusterAuthorizationFailedError", 31, "CLUSTER_AUTHORIZATION_FAILED", "A"),
    ("InvalidTimestampError", 32, "INVALID_TIMESTAMP", ""),
    ("UnsupportedSaslMechanismError", 33, "UNSUPPORTED_SASL_MECHANISM", ""),
    ("IllegalSaslStateError", 34, "ILLEGAL_SASL_STATE", ""),
    ("UnsupportedVersionError", 35, "UNSUPPORTED_VERSION", ""),
    ("TopicAlreadyExistsError", 36, "TOPIC_ALREADY_EXISTS", ""),
    ("InvalidPartitionsError", 37, "INVALID_PARTITIONS", ""),
    ("InvalidReplicationFactorError", 38, "INVALID_REPLICATION_FACTOR", ""),
    ("InvalidReplicationAssignmentError", 39, "INVALID_REPLICATION_ASSIGNMENT", ""),
    ("InvalidConfigurationError", 40, "INVALID_CONFIG", ""),
    ("NotControllerError", 41, "NOT_CONTROLLER", "R"),
    ("InvalidRequestError", 42, "INVALID_REQUEST", ""),
    ("UnsupportedForMessageFormatError", 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", ""),
    ("PolicyViolationError", 44, "POLICY_VIOLATION", ""),
    ("OutOfOrderSequenceNumberError", 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", ""),
    ("DuplicateSequenceNumberError", 46, "DUPLICATE_SEQUENCE_NUMBER", ""),
    ("InvalidProducerEpochError", 47, "INVALID_PRODUCER_EPOCH", ""),
    ("InvalidTxnStateError", 48, "INVALID_TXN_STATE", ""),
    ("InvalidProducerIdMappingError", 49, "INVALID_PRODUCER_ID_MAPPING", ""),
    ("InvalidTransactionTimeoutError", 50, "INVALID_TRANSACTION_TIMEOUT", ""),
    ("ConcurrentTransactionsError", 51, "CONCURRENT_TRANSACTIONS", "R"),
    ("TransactionCoordinatorFencedError", 52, "TRANSACTION_COORDINATOR_FENCED", ""),
    ("TransactionalIdAuthorizationFailedError", 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "A"),
    ("SecurityDisabledError", 54, "SECURITY_DISABLED", ""),
    ("OperationNotAttemptedError", 55, "OPERATION_NOT_ATTEMPTED", ""),
    ("KafkaStorageError", 56, "KAFKA_STORAGE_ERROR", "M"),
    ("LogDirNotFoundError", 57, "LOG_DIR_NOT_FOUND", ""),
    ("SaslAuthenticationFailedError", 58, "SASL_AUTHENTICATION_FAILED", ""),
    ("UnknownProducerIdError", 59, "UNKNOWN_PRODUCER_ID", ""),
    ("ReassignmentInProgressError", 60, "REASSIGNMENT_IN_PROGRESS", ""),
    ("DelegationTokenAuthDisabledError", 61, "DELEGATION_TOKEN_AUTH_DISABLED", ""),
    ("DelegationTokenNotFoundError", 62, "DELEGATION_TOKEN_NOT_FOUND", ""),
    ("DelegationTokenOwnerMismatchError", 63, "DELEGATION_TOKEN_OWNER_MISMATCH", ""),
    ("DelegationTokenRequestNotAllowedError", 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", ""),
    ("DelegationTokenAuthorizationFailedError", 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", "A"),
    ("DelegationTokenExpiredError", 66, "DELEGATION_TOKEN_EXPIRED", ""),
    ("InvalidPrincipalTypeError", 67, "INVALID_PRINCIPAL_TYPE", ""),
    ("NonEmptyGroupError", 68, "NON_EMPTY_GROUP", ""),
    ("GroupIdNotFoundError", 69, "GROUP_ID_NOT_FOUND", ""),
    ("FetchSessionIdNotFoundError", 70, "FETCH_SESSION_ID_NOT_FOUND", "R"),
    ("InvalidFetchSessionEpochError", 71, "INVALID_FETCH_SESSION_EPOCH", "R"),
    ("ListenerNotFoundError", 72, "LISTENER_NOT_FOUND", "M"),
    ("TopicDeletionDisabledError", 73, "TOPIC_DELETION_DISABLED", ""),
    ("FencedLeaderEpochError", 74, "FENCED_LEADER_EPOCH", "M"),
    ("UnknownLeaderEpochError", 75, "UNKNOWN_LEADER_EPOCH", "M"),
    ("UnsupportedCompressionTypeError", 76, "UNSUPPORTED_COMPRESSION_TYPE", ""),
    ("StaleBrokerEpochError", 77, "STALE_BROKER_EPOCH", ""),
    ("OffsetNotAvailableError", 78, "OFFSET_NOT_AVAILABLE", "R"),
    ("MemberIdRequiredError", 79, "MEMBER_ID_REQUIRED", ""),
    ("PreferredLeaderNotAvailableError", 80, "PREFERRED_LEADER_NOT_AVAILABLE", "M"),
    ("GroupMaxSizeReachedError", 81, "GROUP_MAX_SIZE_REACHED", ""),
    ("FencedInstanceIdError", 82, "FENCED_INSTANCE_ID", ""),
    ("EligibleLeadersNotAvailableError", 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", "M"),
    ("ElectionNotNeededError", 84, "ELECTION_NOT_NEEDED", "M"),
    ("NoReassignmentInProgressError", 85, "NO_REASSIGNMENT_IN_PROGRESS", ""),
    ("GroupSubscribedToTopicError", 86, "GROUP_SUBSCRIBED_TO_TOPIC", ""),
    ("InvalidRecordError", 87, "INVALID_RECORD", ""),
    ("UnstableOffsetCommitError", 88, "UNSTABLE_OFFSET_COMMIT", "R"),
    ("ThrottlingQuotaExceededError", 89, "THROTTLING_QUOTA_EXCEEDED", "R"),
    ("ProducerFencedError", 90, "PRODUCER_FENCED", ""),
    ("ResourceNotFoundError", 91, "RESOURCE_NOT_FOUND", ""),
    ("DuplicateResourceError", 92, "DUPLICATE_RESOURCE", ""),
    ("UnacceptableCredentialError", 93, "UNACCEPTABLE_CREDENTIAL", ""),
    ("InconsistentVoterSetError", 94, "INCONSISTENT_VOTER_SET", ""),
    ("InvalidUpdateVersionError", 95, "INVALID_UPDATE_VERSION", ""),
    ("FeatureUpdateFailedError", 96, "FEATURE_UPDATE_FAILED", ""),
    ("PrincipalDeserializationFailureError", 97, "PRINCIPAL_DESERIALIZATION_FAILURE", ""),
    ("SnapshotNotFoundError", 98, "SNAPSHOT_NOT_FOUND", ""),
    ("PositionOutOfRangeError", 99, "POSITION_OUT_OF_RANGE", ""),
    ("UnknownTopicIdError", 100, "UNKNOWN_TOPIC_ID", "M"),
    ("DuplicateBrokerRegistrationError", 101, "DUPLICATE_BROKER_REGISTRATION", ""),
    ("BrokerIdNotRegisteredError", 102, "BROKER_ID_NOT_REGISTERED", ""),
    ("InconsistentTopicIdError", 103, "INCONSISTENT_TOPIC_ID", "M"),
    ("InconsistentClusterIdError", 104, "INCONSISTENT_CLUSTER_ID", ""),
    ("TransactionalIdNotFoundError", 105, "TRANSACTIONAL_ID_NOT_FOUND", ""),
    ("FetchSessionTopicIdError", 106, "FETCH_SESSION_TOPIC_ID_ERROR", "R"),
    ("IneligibleReplicaError", 107, "INELIGIBLE_REPLICA", ""),
    ("NewLeaderElectedError", 108, "NEW_LEADER_ELECTED", ""),
    ("OffsetMovedToTieredStorageError", 109, "OFFSET_MOVED_TO_TIERED_STORAGE", ""),
    ("FencedMemberEpochError", 110, "FENCED_MEMBER_EPOCH", ""),
    ("UnreleasedInstanceIdError", 111, "UNRELEASED_INSTANCE_ID", ""),
    ("UnsupportedAssignorError", 112, "UNSUPPORTED_ASSIGNOR", ""),
    ("StaleMemberEpochError", 113, "STALE_MEMBER_EPOCH", ""),
    ("MismatchedEndpointTypeError", 114, "MISMATCHED_ENDPOINT_TYPE", ""),
    ("UnsupportedEndpointTypeError", 115, "UNSUPPORTED_ENDPOINT_TYPE", ""),
    ("UnknownControllerIdError", 116, "UNKNOWN_CONTROLLER_ID", ""),
    ("UnknownSubscriptionIdError", 117, "UNKNOWN_SUBSCRIPTION_ID", ""),
    ("TelemetryTooLargeError", 118, "TELEMETRY_TOO_LARGE", ""),
    ("InvalidRegistrationError", 119, "INVALID_REGISTRATION", ""),
    ("TransactionAbortableError", 120, "TRANSACTION_ABORTABLE", ""),
    ("InvalidRecordStateError", 121, "INVALID_RECORD_STATE", ""),
    ("ShareSessionNotFoundError", 122, "SHARE_SESSION_NOT_FOUND", "R"),
    ("InvalidShareSessionEpochError", 123, "INVALID_SHARE_SESSION_EPOCH", "R"),
    ("FencedStateEpochError", 124, "FENCED_STATE_EPOCH", ""),
    ("InvalidVoterKeyError", 125, "INVALID_VOTER_KEY", ""),
    ("DuplicateVoterError", 126, "DUPLICATE_VOTER", ""),
    ("VoterNotFoundError", 127, "VOTER_NOT_FOUND", ""),
)

_KIND_BASES: dict[str, tuple[type[KafkaError], ...]] = {
    "": (BrokerResponseError,),
    "R": (RetriableError, BrokerResponseError),
    "M": (InvalidMetadataError, BrokerResponseError),
    "A": (AuthorizationError,),
}

_BY_CODE: dict[int, type[BrokerResponseError]] = {}


def _define_broker_errors() -> None:
    namespace = globals()
    for name, errno, message, kind in _BROKER_ERRORS:
        attrs = {"errno": errno, "message": message, "__module__": __name__}
        cls = type(name, _KIND_BASES[kind], attrs)
        namespace[name] = cls
        _BY_CODE.setdefault(errno, cls)
        __all__.append(name)
    # kafka-python keeps two more names for existing codes.
    namespace["CorruptRecordException"] = namespace["CorruptRecordError"]
    incompatible = type(
        "IncompatibleBrokerVersion",
        (namespace["UnsupportedVersionError"],),
        {"__module__": __name__},
    )
    namespace["IncompatibleBrokerVersion"] = incompatible
    __all__.extend(["CorruptRecordException", "IncompatibleBrokerVersion"])


_define_broker_errors()


def for_code(error_code: int) -> type[BrokerResponseError]:
    """The class of Kafka protocol error ``error_code`` (``UnknownError`` subclass if new)."""
    found = _BY_CODE.get(error_code)
    if found is not None:
        return found
    unknown: type[BrokerResponseError] = globals()["UnknownError"]
    return type("UnrecognizedBrokerError", (unknown,), {"errno": error_code})
