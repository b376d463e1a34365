"""RocketMQ's SQL92 message selectors: tokenizer, parser and three-valued evaluator.

``compile_sql92("a > 5 AND TAGS IN ('TagA')").evaluate({"a": "7", "TAGS": "TagA"})`` is True.
See ``docs/filtering.md`` for the language and its (Java-faithful) semantics.
"""

from rmq_core.filter.sql92.expression import COMPILE_CACHE_SIZE, Sql92Expression, compile_sql92
from rmq_core.filter.sql92.nodes import Sql92EvaluationError
from rmq_core.filter.sql92.parser import MAX_DEPTH, MAX_NESTING

__all__ = [
    "COMPILE_CACHE_SIZE",
    "MAX_DEPTH",
    "MAX_NESTING",
    "Sql92EvaluationError",
    "Sql92Expression",
    "compile_sql92",
]
