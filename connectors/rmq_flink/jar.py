"""The connector's Java half: compiled with ``javac`` against the jars of the installed
``apache-flink`` wheel (no Maven), packaged as one small jar, and added to a job's
``pipeline.jars``.

The jar is named after a digest of the Java sources and the PyFlink version, so a changed
source or another Flink gives another jar; an existing jar is reused. It is written to
``RMQ_FLINK_BUILD_DIR`` when set, else next to the sources (``_build/``) when that is writable,
else ``~/.cache/rmq_flink``. ``python -m rmq_flink.jar`` builds it and prints its path (the
Makefile's ``flink-env`` target does this).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from rmq_flink.errors import RocketMQFlinkError

__all__ = ["JAVA_SOURCES", "add_connector_jar", "connector_jar", "jar_url"]

JAVA_SOURCES = Path(__file__).resolve().parent / "java"
JAVAC_TIMEOUT = 300.0  # s
# META-INF/services entries: the Table API finds the ``'connector' = 'rocketmq'`` factory here.
_SERVICES: dict[str, str] = {
    "META-INF/services/org.apache.flink.table.factories.Factory": (
        "org.rmq.flink.table.RocketMQDynamicTableFactory\n"
    ),
}


def _pyflink_home() -> Path:
    try:
        import pyflink
    except ImportError as exc:  # pragma: no cover - the flink extra is missing
        raise RocketMQFlinkError("PyFlink is not installed: pip install 'rmq[flink]'") from exc
    return Path(pyflink.__file__).resolve().parent


def _sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def _digest(home: Path) -> str:
    h = hashlib.sha256()
    for path in _sources():
        h.update(str(path.relative_to(JAVA_SOURCES)).encode())
        h.update(path.read_bytes())
    for name, text in sorted(_SERVICES.items()):
        h.update(f"{name}={text}".encode())
    h.update(",".join(sorted(p.name for p in (home / "lib").glob("*.jar"))).encode())
    return h.hexdigest()[:16]


def _build_dir() -> Path:
    configured = os.environ.get("RMQ_FLINK_BUILD_DIR")
    if configured:
        return Path(configured)
    local = Path(__file__).resolve().parent / "_build"
    if os.access(local.parent, os.W_OK):
        return local
    return Path.home() / ".cache" / "rmq_flink"


def _javac() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "javac" if home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("javac")
    if found is None:
        raise RocketMQFlinkError("javac (JDK 11+) is needed to build the connector jar")
    return found


def connector_jar() -> Path:
    """The connector jar, compiled first when no jar for these sources and this Flink exists."""
    home = _pyflink_home()
    target = _build_dir() / f"rmq-flink-{_digest(home)}.jar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".javac-", dir=target.parent) as tmp:
        classes = Path(tmp) / "classes"
        classpath = os.pathsep.join([str(home / "lib" / "*"), str(home / "opt" / "*")])
        command = [_javac(), "-nowarn", "--release", "11", "-d", str(classes), "-cp", classpath]
        command += [str(p) for p in _sources()]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=JAVAC_TIMEOUT, check=False
        )
        if done.returncode != 0:
            raise RocketMQFlinkError(f"javac failed:\n{done.stdout}{done.stderr}")
        staged = Path(tmp) / target.name
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: rmq_flink\n")
            for name, text in _SERVICES.items():
                jar.writestr(name, text)
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, str(path.relative_to(classes)))
        os.replace(staged, target)  # atomic: concurrent builds never see half a jar
    for old in target.parent.glob("rmq-flink-*.jar"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def jar_url() -> str:
    """``file://`` URL of the connector jar (for ``pipeline.jars``)."""
    return connector_jar().as_uri()


def add_connector_jar(env: Any) -> None:
    """Add the connector jar to a ``StreamExecutionEnvironment`` or ``TableEnvironment``.

    Call it before building sources or sinks: it also makes the classes loadable in the
    PyFlink client, where the builders create the Java objects.
    """
    if hasattr(env, "add_jars"):
        env.add_jars(jar_url())
        return
    config = env.get_config()
    current = config.get("pipeline.jars", "")
    jars = [j for j in current.split(";") if j]
    if jar_url() not in jars:
        jars.append(jar_url())
    config.set("pipeline.jars", ";".join(jars))
    from pyflink.util.java_utils import add_jars_to_context_class_loader

    add_jars_to_context_class_loader([jar_url()])


def main() -> int:
    """Build the jar (when needed) and print its path."""
    print(connector_jar())
    return 0


if __name__ == "__main__":
    sys.exit(main())
