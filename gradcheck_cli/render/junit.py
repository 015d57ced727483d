"""JUnit XML: one testsuite per check (a model's, at its generic point, of
its data loss alone), one testcase per parameter block, each with the time
the check spent on it (``BlockResult.seconds``); the testsuites' time is the
run's.

Read by CI viewers (GitHub, GitLab, Jenkins, Azure): a failing block is a
<failure> with the worst dimension's values; a model that could not be
checked is a testcase `load` with an <error>, and a block a stopped check
(--timeout, Ctrl-C) never reached is a testcase with an <error> saying
so (a check stopped inside a block, or before the checks to follow it,
has a testcase "(not finished)" with an <error>); warnings go to <system-out>
(and are failures under --strict, matching the exit code: a block's as
its testcase's failure, the model's as a testcase "model warnings").
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Sequence

from ..outputs import write_atomically
from ..report import FAIL, ModelFailure, PASS, OK, Report
from . import printable


def _relative(path: str) -> str:
    """Paths relative to the working directory (the repository, in CI)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive, on Windows
        return path


def classname(model: str) -> str:
    """A testcase's class as JUnit viewers read it, split on dots into a
    tree: the model's path as a dotted name (``sample_models/svm.py`` is
    ``sample_models.svm``; a dot inside a file's name, ``model.v2.py``,
    becomes ``_``; a dotted module stays as it is), then its ``:ATTR`` as
    one more level, and the point's suffix as it is."""
    target, suffix = model, ""
    if model.endswith(")") and " (" in model:  # "m.py (generic point)"
        target, suffix = model.rsplit(" (", 1)
        suffix = " (" + suffix
    path, colon, attr = target.partition(":") if not re.match(r"^[A-Za-z]:[\\/]", target) else (target, "", "")
    if not path.endswith(".py") and "/" not in path and "\\" not in path:
        dotted = path  # (a dotted module: its name is already the class path)
    else:
        path = _relative(path) if os.path.isabs(path) else path  # (as the file attribute: from the repository)
        path = path.replace("\\", "/")
        path = path[:-3] if path.endswith(".py") else path
        dotted = ".".join(part.replace(".", "_") for part in path.split("/") if part not in ("", ".", ".."))
    return dotted + (f".{attr}" if colon else "") + suffix


def _block_detail(block) -> str:
    worst = block.worst
    lines = [f"grade {block.grade}; checked {block.checked} of {block.size} coordinates"
             + (f" and {len(block.directions)} directions" if block.directions else "")]
    if block.max_rel_error is not None:
        lines.append(f"max relative error {block.max_rel_error:.3e}")
    if worst is not None:
        lines.append(f"worst at {worst.label}: analytic {worst.analytic!r}, numeric {worst.numeric!r}"
                     + (f", relative error {worst.rel_error:.3e}" if worst.rel_error is not None else "")
                     + (f" ({worst.message})" if worst.message else ""))
    if block.diagnosis is not None:
        lines.append(f"hint: {block.diagnosis.text}")
    return "\n".join(lines)


def _summary(block) -> str:
    worst = block.worst
    if worst is None:
        return f"{block.name}: {block.grade}"
    error = f"relative error {worst.rel_error:.1e} " if worst.rel_error is not None else ""
    hint = f"; hint: {block.diagnosis.text}" if block.diagnosis is not None else ""
    return f"{block.name}: {error}at {worst.label} (analytic {worst.analytic:.6g}, numeric {worst.numeric:.6g}){hint}"


def build_sanity(reports, *, strict: bool = False) -> ET.ElementTree:
    """The XML tree for `gradcheck sanity`: a testcase per check; a skipped
    check is <skipped>, a warning a failure only under --strict."""
    root = ET.Element("testsuites", name="gradcheck sanity")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.model)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=classname(report.model), name=check.name, time="0")
            counts["tests"] += 1
            if check.status == "skip":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=check.summary)
            elif check.status == "fail" or (strict and check.status == "warn"):
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=check.summary, type="SanityCheck").text = check.summary
            elif check.status == "warn":
                ET.SubElement(case, "system-out").text = "warning: " + check.summary
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{report.seconds:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    return ET.ElementTree(root)


def build(results: Sequence[Report | ModelFailure], *, strict: bool = False) -> ET.ElementTree:
    """The XML tree for the checked models: a report contributes each check
    it holds (at the generic point, of the data loss alone) as a testsuite
    of its own."""
    root = ET.Element("testsuites", name="gradcheck")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    # The models were checked one after another, each report's seconds
    # holding its nested checks': their sum is the run's time.
    run_time = sum(result.seconds for result in results if isinstance(result, Report))
    checks = [check for result in results
              for check in (result.checks() if isinstance(result, Report) else (result,))]
    for result in checks:
        suite = ET.SubElement(root, "testsuite", name=result.model)
        if isinstance(result, ModelFailure):
            case = ET.SubElement(suite, "testcase", classname=classname(result.model), name="load")
            ET.SubElement(case, "error", message=result.message.splitlines()[0], type="ModelError").text = result.message
            counts = {"tests": 1, "failures": 0, "errors": 1}
            seconds = 0.0
        else:
            counts = {"tests": 0, "failures": 0, "errors": 0}
            seconds = result.seconds
            properties = ET.SubElement(suite, "properties")
            for name, value in (("verdict", result.verdict), ("evaluations", result.evaluations),
                                *result.settings.to_dict().items()):
                ET.SubElement(properties, "property", name=str(name), value=str(value))
            for block in result.blocks:
                attributes = {"classname": classname(result.model), "name": block.name,
                              "time": f"{block.seconds:.3f}"}
                if result.source:
                    attributes["file"] = _relative(result.source)
                    if result.source_line:
                        attributes["line"] = str(result.source_line)
                case = ET.SubElement(suite, "testcase", **attributes)
                counts["tests"] += 1
                failing = block.grade == FAIL or (strict and block.grade not in (PASS, OK))
                if failing:
                    counts["failures"] += 1
                    # (GradientMismatch, JacobianMismatch, HessianMismatch, HessianVectorProductMismatch)
                    what = "".join(word.capitalize() for word in result.derivative.replace("-", " ").split())
                    kind = f"{what}Mismatch" if block.grade == FAIL else f"{what}Warning"
                    ET.SubElement(case, "failure", message=_summary(block), type=kind).text = _block_detail(block)
                notes = list(block.warnings)
                if block.grade != FAIL and block.grade not in (PASS, OK):
                    notes.insert(0, _block_detail(block))
                if notes:
                    ET.SubElement(case, "system-out").text = "\n".join(notes)
            for name in result.unchecked:
                # One testcase per block whatever happened: a block --timeout
                # (or Ctrl-C) left unchecked is an error, as the exit code is.
                case = ET.SubElement(suite, "testcase", classname=classname(result.model), name=name, time="0")
                counts["tests"] += 1
                counts["errors"] += 1
                message = f"not checked: {result.stopped}"
                ET.SubElement(case, "error", message=message, type="NotChecked").text = message
            if result.stopped and not result.unchecked:
                # Stopped inside a block, or before the checks that were to
                # follow this one: the blocks above are partial, and a CI
                # viewer must not show a stopped run as green.
                case = ET.SubElement(suite, "testcase", classname=classname(result.model), name="(not finished)", time="0")
                counts["tests"] += 1
                counts["errors"] += 1
                message = f"{result.stopped}: this report is partial"
                ET.SubElement(case, "error", message=message, type="NotChecked").text = message
            if strict and result.warnings:
                # A warning about the model itself (float32 arithmetic, noise)
                # fails --strict as a block's would: the exit code says so too.
                case = ET.SubElement(suite, "testcase", classname=classname(result.model), name="model warnings", time="0")
                counts["tests"] += 1
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=result.warnings[0][:200], type="ModelWarning").text = \
                    "\n".join(result.warnings)
            if result.warnings or result.notes or result.hints:
                ET.SubElement(suite, "system-out").text = "\n".join(
                    [f"warning: {w}" for w in result.warnings] + [f"note: {n}" for n in result.notes]
                    + [f"hint: {h}" for h in result.hints])
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("skipped", "0")
        suite.set("time", f"{seconds:.3f}")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{run_time:.3f}")
    return ET.ElementTree(root)


def write(results: Sequence[Report | ModelFailure], path: str, *, strict: bool = False, sanity: bool = False) -> None:
    """Write the XML file (UTF-8, with declaration), whole or not at all."""
    tree = build_sanity(results, strict=strict) if sanity else build(results, strict=strict)
    for element in tree.iter():  # names and messages are the user's: no control character may break the XML
        element.text = printable(element.text) if element.text else element.text
        element.attrib.update({key: printable(value) for key, value in element.attrib.items()})
    ET.indent(tree)
    write_atomically(path, lambda stream: tree.write(stream, encoding="utf-8", xml_declaration=True))
