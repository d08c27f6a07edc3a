"""Step 3 of the fine-tune dialog: the trainer's progress, a live loss chart and its log."""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from cw_desktop.dialogs.finetune.common import ERROR_STYLE, rough_duration

_PYTHON_WARNING = re.compile(r"\.py:\d+: \w*Warning: ")


def _nice_interval(rough: float) -> float:
    """The smallest of 1, 2, 5 x 10^n (at least 1) that is >= rough."""
    if rough <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= rough:
            return float(factor * magnitude)
    return float(10 * magnitude)


class LossChart(QChartView):
    """Training loss and held-out loss against the step, growing as events arrive."""

    def __init__(self) -> None:
        chart = QChart()
        chart.setTitle("Loss (lower is better)")
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(4, 4, 4, 4))
        self.train_series = QLineSeries()
        self.train_series.setName("training")
        self.train_series.setPen(QPen(QColor("#2f6f9f"), 1.6))
        self.eval_series = QLineSeries()
        self.eval_series.setName("held-out")
        self.eval_series.setPen(QPen(QColor("#d9822b"), 2.4))
        self.eval_series.setPointsVisible(True)
        chart.addSeries(self.train_series)
        chart.addSeries(self.eval_series)
        self.x_axis = QValueAxis()
        self.x_axis.setTitleText("step")
        self.x_axis.setLabelFormat("%d")
        self.y_axis = QValueAxis()
        self.y_axis.setTitleText("loss")
        self.y_axis.setLabelFormat("%.2f")
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        for series in (self.train_series, self.eval_series):
            series.attachAxis(self.x_axis)
            series.attachAxis(self.y_axis)
        super().__init__(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        self.max_steps = 1
        self._rescale()

    def clear(self) -> None:
        self.train_series.clear()
        self.eval_series.clear()
        self._rescale()

    def set_max_steps(self, max_steps: int) -> None:
        self.max_steps = max(1, max_steps)
        self._rescale()

    def add_train(self, step: int, loss: float) -> None:
        self._append(self.train_series, step, loss)

    def add_eval(self, step: int, loss: float) -> None:
        self._append(self.eval_series, step, loss)

    def _append(self, series: QLineSeries, step: int, value: float) -> None:
        if not math.isfinite(value):
            return
        # A resumed run restarts from its checkpoint: drop points it is about to redo.
        while series.count() and series.at(series.count() - 1).x() >= step:
            series.remove(series.count() - 1)
        series.append(QPointF(step, value))
        self._rescale()

    def _rescale(self) -> None:
        values = [series.at(i).y() for series in (self.train_series, self.eval_series) for i in range(series.count())]
        # Whole, round step numbers on the axis (1, 2, 5 x 10^n apart), never "0, 2, 5, 7, 10".
        self.x_axis.setRange(0, self.max_steps)
        self.x_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        self.x_axis.setTickAnchor(0)
        self.x_axis.setTickInterval(_nice_interval(self.max_steps / 6))
        if values:
            low, high = min(values), max(values)
            pad = max(0.02, (high - low) * 0.08)
            self.y_axis.setRange(max(0.0, low - pad), high + pad)
            self.y_axis.applyNiceNumbers()
        else:
            self.y_axis.setRange(0, 5)


class TrainingPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.status = QLabel("Starting…")
        font = self.status.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.status.setFont(font)
        layout.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        layout.addWidget(self.progress)
        self.numbers = QLabel(" ")
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.numbers)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setFrameShape(QFrame.Shape.StyledPanel)
        self.message.setMargin(8)
        self.message.hide()
        layout.addWidget(self.message)
        self.chart = LossChart()
        layout.addWidget(self.chart, 3)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(3000)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        self.log.setFont(mono)
        self.log.setMinimumHeight(90)
        layout.addWidget(self.log, 1)

    def append_log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.show()

    # -- the trainer's progress events (cw-desktop train --json-progress), shown as they arrive --
    @Slot(str)
    def show_log_line(self, text: str) -> None:
        # Library deprecation warnings are for developers, not writers (failures still show the full log tail).
        if _PYTHON_WARNING.search(text) or text.strip() == "warnings.warn(":
            return
        self.append_log(text)

    @Slot(object)
    def show_stage(self, event: dict[str, Any]) -> None:
        self.status.setText(str(event.get("message") or event.get("stage", "")).rstrip(".") + "…")
        self.append_log(f"» {event.get('message', '')}")

    @Slot(object)
    def show_scan(self, event: dict[str, Any]) -> None:
        self.append_log(
            f"  {event['files_used']} files used, {event['files_skipped']} skipped, {event['words']:,} words; "
            f"{event['train_tokens']:,} training tokens, {event['eval_tokens']:,} held out; "
            f"estimated {rough_duration(event.get('estimated_seconds'))}")

    @Slot(object)
    def show_step(self, event: dict[str, Any]) -> None:
        step, max_steps = int(event["step"]), int(event["max_steps"])
        self.progress.setRange(0, max_steps)
        self.progress.setValue(step)
        self.progress.setFormat(f"step {step} of {max_steps} (%p%)")
        self.chart.add_train(step, float(event["loss"]))
        self.numbers.setText(f"<b>{rough_duration(event.get('eta_s'))} left</b> · "
                             f"{event.get('tokens_per_s', 0):,.0f} tokens/s · loss {event['loss']:.3f} · "
                             f"running for {rough_duration(event.get('elapsed_s'))}")

    @Slot(object)
    def show_eval(self, event: dict[str, Any]) -> None:
        self.chart.add_eval(int(event["step"]), float(event["eval_loss"]))
        self.append_log(f"  step {event['step']}: held-out perplexity {event['perplexity']:.2f}")

    @Slot(object)
    def show_checkpoint(self, event: dict[str, Any]) -> None:
        self.append_log(f"  checkpoint saved at step {event['step']}")
