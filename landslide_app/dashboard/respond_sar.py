"""The responder panel's SAR change tab: the latest pre-event and first post-event VH (dB) images
under a split control on the map (off by default: they would hide the classes), and the selected
chip's VH image at each acquisition (a date slider under the map).

:meth:`SarChangeMixin._build_sar` makes the widgets (named on the view: ``split_toggle``,
``split_note``, ``chip_slider``, ``chip_image``, ``chip_slider_box``) and the tab (``sar_box``).
"""

from __future__ import annotations

import ipyleaflet
import ipywidgets as W

from landslide_app.dashboard.respond_base import RespondBase
from landslide_app.errors import InputError


class SarChangeMixin(RespondBase):
    """The SAR change tab of the responder's panel (see module docstring)."""

    _split: ipyleaflet.SplitMapControl | None
    split_toggle: W.Checkbox
    split_note: W.HTML
    chip_slider: W.SelectionSlider
    chip_image: W.Image
    chip_slider_box: W.VBox
    sar_box: W.VBox

    def _build_sar(self) -> None:
        """The split toggle and the chip date slider, wired (both off without SAR), in ``sar_box``."""
        dates = self.area.sar_dates()
        self.split_toggle = W.Checkbox(
            value=False, indent=False, description="before/after VH split map (hides the classes)", disabled=not dates
        )
        self.split_toggle.observe(self._guard("The split map", lambda c: self.set_split(c["new"])), "value")
        self.split_note = W.HTML("" if dates else "<i>This store has no SAR (DEM only).</i>")
        self.chip_slider = W.SelectionSlider(
            options=[(f"{d} ({r})", c) for c, d, r in dates] or [("-", "")],
            description="Date",
            continuous_update=False,
            layout=W.Layout(width="420px"),
            disabled=not dates,
        )
        self.chip_image = W.Image(format="png", layout=W.Layout(width="256px", height="256px", display="none"))
        self.chip_slider.observe(self._guard("The chip's date", lambda _c: self._show_chip_sar()), "value")
        self.chip_slider_box = W.VBox([W.HTML("<b>Selected chip: VH (dB) by acquisition</b>"), self.chip_slider])
        self.chip_slider.add_class("ls-date-slider")
        self.sar_box = W.VBox(
            [
                W.HTML("<b>SAR change</b>: latest pre-event vs first post-event VH (dB); drag the divider on the map"),
                self.split_toggle,
                self.split_note,
            ]
        )

    def set_split(self, on: bool) -> None:
        """Show (or hide) the before/after VH images under a split control."""
        if on and self._split is None:
            pair = self.area.sar_pair()
            if pair is None:
                raise InputError("this store has no pre- and post-event SAR to compare")
            pre, post = pair
            for layer, d in ((self.sar_pre, pre), (self.sar_post, post)):
                with layer.hold_trait_notifications():
                    layer.bounds, layer.url = d["bounds"], d["url"]
                    layer.name = f"VH {d['role']} {d['date']} (dB)"
            self._split = ipyleaflet.SplitMapControl(left_layer=self.sar_pre, right_layer=self.sar_post)
            self.map.add(self._split)
            lo, hi = pre["range_db"]
            self.split_note.value = (
                f"left: {pre['date']} (pre) · right: {post['date']} (post) · grey {lo:.0f} … {hi:.0f} dB"
            )
            self.pred_layer.style = {"fillOpacity": 0.0}
        elif not on and self._split is not None:
            self.map.remove(self._split)  # and with it, its two layers
            self._split = None
            self.split_note.value = ""
            self.pred_layer.style = {}  # the classes' fill back

    def _show_chip_sar(self) -> None:
        """The selected chip's VH (dB) at the slider's date."""
        if self.selected_chip is None or not self.chip_slider.value:
            return
        self.chip_image.value = self.area.chip_sar_png(self.selected_chip, self.chip_slider.value)
        self.chip_image.layout.display = None
