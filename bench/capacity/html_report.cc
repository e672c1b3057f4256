// RenderHtml: the capacity report as one self-contained page, its charts drawn as inline SVG.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "api/kms_xml.h"
#include "bench/capacity/capacity_report.h"

namespace mcx::capacity {
namespace {

std::string Num(double v) { return fmt::format("{:.1f}", v); }

std::string Escaped(std::string_view text) {
  std::string out;
  api::AppendXmlEscaped(out, text);
  return out;
}

// A label for a tick value: 1200 -> "1,200", 0.25 -> "0.25".
std::string TickLabel(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9) return WithThousands(static_cast<uint64_t>(std::llround(std::max(0.0, v))));
  return fmt::format("{:g}", v);
}

// A step of 1, 2 or 5 times a power of ten giving about `ticks` intervals up to `max`.
double NiceStep(double max, int ticks) {
  if (max <= 0) return 1;
  const double raw = max / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<std::pair<double, std::string>> x_ticks;  // empty: evenly spaced numbers
  std::optional<double> marker_x;                       // a vertical line (end of warm-up)
  std::string marker_label;
};

constexpr int kWidth = 1100, kHeight = 300;
constexpr int kLeft = 80, kRight = 250, kTop = 36, kBottom = 48;
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"};
constexpr const char* kErrorColor = "#d62728";

std::string RenderChart(const LineChart& c) {
  double x_min = 0, x_max = 1, y_max = 0;
  bool first = true;
  for (const Series& s : c.series) {
    for (const auto& [x, y] : s.points) {
      x_min = first ? x : std::min(x_min, x);
      x_max = first ? x : std::max(x_max, x);
      first = false;
      y_max = std::max(y_max, y);
    }
  }
  for (const auto& [x, label] : c.x_ticks) {
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
  }
  if (x_max <= x_min) x_max = x_min + 1;
  const double y_step = NiceStep(y_max > 0 ? y_max : 1, 5);
  const double y_top = std::max(y_step, std::ceil(y_max / y_step) * y_step);
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * pw; };
  auto py = [&](double y) { return kTop + ph - y / y_top * ph; };

  std::string svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) +
                    "\" height=\"" + std::to_string(kHeight) + "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " +
                    std::to_string(kHeight) + "\" role=\"img\" aria-label=\"" + Escaped(c.title) + "\">\n";
  svg += "<text x=\"" + std::to_string(kLeft) + "\" y=\"22\" class=\"title\">" + Escaped(c.title) + "</text>\n";
  svg += "<rect class=\"plot\" x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(kTop) + "\" width=\"" +
         Num(pw) + "\" height=\"" + Num(ph) + "\" fill=\"#eef2f8\"/>\n";
  for (double y = 0; y <= y_top + y_step / 2; y += y_step) {
    svg += "<line x1=\"" + std::to_string(kLeft) + "\" x2=\"" + Num(kLeft + pw) + "\" y1=\"" + Num(py(y)) + "\" y2=\"" +
           Num(py(y)) + "\" stroke=\"#ffffff\" stroke-width=\"1\"/>";
    svg += "<text x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + Num(py(y) + 4) + "\" text-anchor=\"end\">" +
           TickLabel(y) + "</text>\n";
  }
  std::vector<std::pair<double, std::string>> x_ticks = c.x_ticks;
  if (x_ticks.empty()) {
    const double step = NiceStep(x_max - x_min, 8);
    for (double x = std::ceil(x_min / step) * step; x <= x_max + step / 1000; x += step) x_ticks.emplace_back(x, TickLabel(x));
  }
  for (const auto& [x, label] : x_ticks) {
    svg += "<text x=\"" + Num(px(x)) + "\" y=\"" + Num(kTop + ph + 18) + "\" text-anchor=\"middle\">" +
           Escaped(label) + "</text>\n";
  }
  svg += "<text x=\"" + Num(kLeft + pw / 2) + "\" y=\"" + std::to_string(kHeight - 8) +
         "\" text-anchor=\"middle\" class=\"axis\">" + Escaped(c.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16 " + Num(kTop + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" +
         Escaped(c.y_label) + "</text>\n";
  if (c.marker_x) {
    svg += "<line x1=\"" + Num(px(*c.marker_x)) + "\" x2=\"" + Num(px(*c.marker_x)) + "\" y1=\"" +
           std::to_string(kTop) + "\" y2=\"" + Num(kTop + ph) + "\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>";
    svg += "<text x=\"" + Num(px(*c.marker_x) + 4) + "\" y=\"" + std::to_string(kTop + 12) + "\">" +
           Escaped(c.marker_label) + "</text>\n";
  }
  int legend = 0;
  for (const Series& s : c.series) {
    if (s.points.empty()) continue;
    std::string pts;
    for (const auto& [x, y] : s.points) pts += Num(px(x)) + "," + Num(py(y)) + " ";
    svg += "<polyline class=\"series\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"3\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + pts + "\"/>\n";
    if (s.points.size() <= 40) {
      for (const auto& [x, y] : s.points) {
        svg += "<circle cx=\"" + Num(px(x)) + "\" cy=\"" + Num(py(y)) + "\" r=\"4\" fill=\"" + s.color + "\"/>";
      }
    }
    const double ly = kTop + 12 + 20 * legend++;
    svg += "<rect x=\"" + Num(kLeft + pw + 14) + "\" y=\"" + Num(ly - 9) + "\" width=\"14\" height=\"10\" fill=\"" +
           s.color + "\"/><text x=\"" + Num(kLeft + pw + 34) + "\" y=\"" + Num(ly) + "\">" + Escaped(s.name) +
           "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

LineChart ThroughputChart(const LocalFigures& l) {
  LineChart c{"Key set derivation: throughput against threads", "threads", "key sets/s", {}, {}, {}, {}};
  Series measured{"measured", kPalette[0], {}};
  Series linear{"linear from 1 thread", "#999999", {}, true};
  for (const ThreadRate& t : l.derivation) {
    measured.points.emplace_back(t.threads, t.per_second);
    linear.points.emplace_back(t.threads, l.derivation.front().per_second * t.threads);
    c.x_ticks.emplace_back(t.threads, std::to_string(t.threads));
  }
  c.series = {measured, linear};
  return c;
}

LineChart LatencyChart(const std::vector<ServingRun>& runs) {
  LineChart c{"Latency by percentile (successful requests)", "percentile", "milliseconds", {}, {}, {}, {}};
  const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%"};
  for (int n = 0; n <= 4; ++n) c.x_ticks.emplace_back(n, labels[n]);
  for (size_t i = 0; i < runs.size(); ++i) {
    const LatencyHistogram& h = runs[i].result.latency;
    if (h.count() == 0) continue;
    Series s{runs[i].label, kPalette[i % std::size(kPalette)], {}};
    // x in "nines": percentile = 100 (1 - 10^-x).
    for (int k = 0; k <= 40; ++k) {
      const double x = k / 10.0;
      s.points.emplace_back(x, static_cast<double>(h.ValueAtPercentile(100.0 * (1.0 - std::pow(10.0, -x)))) / 1000.0);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

LineChart TimelineChart(const ServingRun& run, size_t index) {
  LineChart c{"Timeline: " + run.label + " (responses per second)", "seconds since start", "responses/s", {}, {}, {}, {}};
  Series ok{"ok", kPalette[index % std::size(kPalette)], {}};
  Series errors{"errors", kErrorColor, {}};
  bool any_error = false;
  // Whole seconds of the run only: the partial second of stragglers after the end would look like a fall.
  const auto whole = static_cast<size_t>(std::max(1.0, std::floor(run.result.warmup_seconds + run.result.measured_seconds)));
  for (size_t t = 0; t < std::min(whole, run.result.timeline.size()); ++t) {
    ok.points.emplace_back(static_cast<double>(t) + 0.5, static_cast<double>(run.result.timeline[t].ok));
    errors.points.emplace_back(static_cast<double>(t) + 0.5, static_cast<double>(run.result.timeline[t].errors));
    any_error = any_error || run.result.timeline[t].errors > 0;
  }
  c.series.push_back(std::move(ok));
  if (any_error) c.series.push_back(std::move(errors));
  if (run.result.warmup_seconds > 0) {
    c.marker_x = run.result.warmup_seconds;
    c.marker_label = "end of warm-up";
  }
  return c;
}

}  // namespace

std::string RenderHtml(const CapacityReport& r) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mcx-kms capacity report</title>\n"
      "<style>\nbody{font-family:sans-serif;margin:16px 24px;color:#222;background:#fff}\n"
      "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 6px}\n"
      ".meta{color:#555;font-size:13px}\n.big{display:inline-block;margin:6px 24px 6px 0}\n"
      ".big b{display:block;font-size:24px}\nsvg.chart{display:block;margin:6px 0;font-size:12px}\n"
      "svg .title{font-size:15px;font-weight:bold}\nsvg .axis{font-size:13px}\n"
      "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
      "th{background:#f0f0f0}td:first-child{text-align:left}\npre{font-size:12px;background:#f7f7f7;padding:8px}\n"
      "</style></head><body>\n";
  h += "<h1>mcx-kms capacity report</h1>\n<div class=\"meta\">" + Escaped(r.machine.when_utc) + " &middot; " +
       Escaped(r.machine.hostname) + " &middot; " + Escaped(r.machine.cpu_model) + " &middot; " +
       std::to_string(r.machine.cores) + " cores &middot; " + Escaped(r.machine.kernel) + "</div>\n";

  // The operator's questions first.
  const ProjectionInputs& p = r.projection;
  h += "<h2>What this KMS can carry</h2>\n";
  if (r.local && r.local->provision_rate() > 0) {
    const double seconds = static_cast<double>(p.users) * p.periods / r.local->provision_rate();
    h += "<div class=\"big\"><b>" + Num(seconds / 60.0) + " min</b>to provision " + WithThousands(p.users) +
         " users &times; " + std::to_string(p.periods) + " key periods</div>\n";
  }
  for (const ServingRun& s : r.serving) {
    h += "<div class=\"big\"><b>" + WithThousands(static_cast<uint64_t>(s.keyprov_per_second() * p.reconnect_seconds)) +
         "</b>devices reconnecting within " + std::to_string(p.reconnect_seconds) + " s (" +
         Escaped(KeySetOriginName(s.origin)) + ")</div>\n";
  }

  h += "<h2>Charts</h2>\n";
  if (r.local && !r.local->derivation.empty()) h += RenderChart(ThroughputChart(*r.local));
  if (!r.serving.empty()) h += RenderChart(LatencyChart(r.serving));
  for (size_t i = 0; i < r.serving.size(); ++i) h += RenderChart(TimelineChart(r.serving[i], i));

  if (!r.serving.empty()) {
    h += "<h2>Serving runs</h2>\n<table><tr><th>run</th><th>conns / threads</th><th>ok/s</th><th>keyprov/s</th><th>errors</th>"
         "<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>key material</th></tr>\n";
    for (const ServingRun& s : r.serving) {
      const LatencyHistogram& l = s.result.latency;
      h += "<tr><td>" + Escaped(s.label) + "</td><td>" + std::to_string(s.options.connections) + " / " +
           std::to_string(s.options.threads) + "</td><td>" +
           WithThousands(static_cast<uint64_t>(s.result.ok_per_second())) + "</td><td>" +
           WithThousands(static_cast<uint64_t>(s.keyprov_per_second())) + "</td><td>" +
           WithThousands(s.errors_total()) + "</td>";
      for (double q : {50.0, 90.0, 99.0, 99.9}) h += "<td>" + FormatMicros(l.ValueAtPercentile(q)) + "</td>";
      h += "<td>" + FormatMicros(l.max()) + "</td><td>" +
           (s.validated ? std::to_string(s.verdict.answers - s.verdict.invalid) + "/" + std::to_string(s.verdict.answers) + " valid"
                        : std::string("not checked")) +
           "</td></tr>\n";
    }
    h += "</table>\n";
  }
  h += "<h2>Full report</h2>\n<pre>" + Escaped(RenderText(r)) + "</pre>\n</body></html>\n";
  return h;
}

}  // namespace mcx::capacity
