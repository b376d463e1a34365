"""Message filtering: tag subscriptions, SQL92 selectors and the broker's message filter.

Depends only on :mod:`rmq_core.common` and :mod:`rmq_core.errors`; the broker, the store
(through its ``MessageFilter`` protocol) and the client use it.
"""

from rmq_core.filter.message_filter import (
    SQL92,
    TAG,
    ExpressionMessageFilter,
    PropertyFilterDisabledError,
    is_tag_type,
)
from rmq_core.filter.sql92 import Sql92EvaluationError, Sql92Expression, compile_sql92
from rmq_core.filter.tags import SubscriptionExpression, parse_tag_expression, tag_hash

__all__ = [
    "SQL92",
    "TAG",
    "ExpressionMessageFilter",
    "PropertyFilterDisabledError",
    "Sql92EvaluationError",
    "Sql92Expression",
    "SubscriptionExpression",
    "compile_sql92",
    "is_tag_type",
    "parse_tag_expression",
    "tag_hash",
]
