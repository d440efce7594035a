package io.percpuref.examples.spring;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Path2D;
import java.awt.geom.RoundRectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Draws the Grafana dashboard's panels, as Grafana would lay them out, from query results that a
 * real Prometheus returned (Grafana itself is not available to the build): a PNG preview for the
 * docs, {@code docs/grafana/dashboard-preview.png}.
 *
 * <p>Input: a data directory written by {@link PrometheusEndToEndTest}: {@code meta.json}
 * ({@code start}, {@code end} in epoch seconds, {@code variables}) and one
 * {@code panel-<id>-<refId>.json} per panel query, holding the {@code data} of Prometheus's
 * {@code /api/v1/query_range} answer. It draws time series (lines with a light fill, legend, the
 * override colors) and stat panels (last value colored by the thresholds, with a sparkline), with
 * Grafana's dark theme colors. It supports the subset of the panel JSON the percpu-ref dashboard
 * uses, nothing more.
 *
 * <p>Re-render without running the test again:
 * {@code java -cp target/test-classes:<test classpath> io.percpuref.examples.spring.DashboardPreview
 * <dashboard.json> <data dir> <output.png>}.
 */
final class DashboardPreview {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static final int WIDTH = 1600;
    private static final int MARGIN = 16;
    private static final int HEADER = 64;
    private static final int GRID_ROW = 34;
    private static final double COLUMN = (WIDTH - 2.0 * MARGIN) / 24;

    private static final Color BACKGROUND = new Color(0x111217);
    private static final Color PANEL = new Color(0x181b1f);
    private static final Color BORDER = new Color(0x2a2d33);
    private static final Color TEXT = new Color(0xccccdc);
    private static final Color DIM = new Color(0x8e8e9e);
    private static final Color GRID = new Color(0x24272c);
    private static final Map<String, Color> NAMED = Map.of("green", new Color(0x73BF69), "orange", new Color(0xFF9830),
            "red", new Color(0xF2495C), "blue", new Color(0x5794F2), "purple", new Color(0xB877D9),
            "yellow", new Color(0xFADE2A));
    /** Grafana's "classic palette". */
    private static final Color[] PALETTE = {new Color(0x73BF69), new Color(0xF2CC0C), new Color(0x8AB8FF),
            new Color(0xFF780A), new Color(0xF2495C), new Color(0x5794F2), new Color(0xB877D9), new Color(0x705DA0),
            new Color(0x37872D), new Color(0xFADE2A), new Color(0x447EBC), new Color(0xC15C17), new Color(0x890F02),
            new Color(0x0A437C), new Color(0x6D1F62), new Color(0x584477)};
    private static final Pattern LEGEND_LABEL = Pattern.compile("\\{\\{\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*}}");
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);

    private final Font title = new Font(Font.SANS_SERIF, Font.BOLD, 14);
    private final Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    private final Font header = new Font(Font.SANS_SERIF, Font.BOLD, 20);

    private final GrafanaDashboard dashboard;
    private final Path dataDir;
    private final double start;
    private final double end;
    private final JsonNode variables;

    private DashboardPreview(GrafanaDashboard dashboard, Path dataDir) throws IOException {
        this.dashboard = dashboard;
        this.dataDir = dataDir;
        JsonNode meta = JSON.readTree(Files.readString(dataDir.resolve("meta.json")));
        this.start = meta.path("start").asDouble();
        this.end = meta.path("end").asDouble();
        this.variables = meta.path("variables");
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: DashboardPreview <dashboard.json> <data dir> <output.png>");
            System.exit(2);
        }
        render(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]));
    }

    /** Renders {@code dashboardJson} with the query results in {@code dataDir} into the PNG {@code output}. */
    static void render(Path dashboardJson, Path dataDir, Path output) throws IOException {
        new DashboardPreview(GrafanaDashboard.load(dashboardJson), dataDir).draw(output);
    }

    private void draw(Path output) throws IOException {
        List<JsonNode> panels = this.dashboard.panels();
        int rows = 0;
        for (JsonNode panel : panels) {
            rows = Math.max(rows, panel.path("gridPos").path("y").asInt() + panel.path("gridPos").path("h").asInt());
        }
        int height = HEADER + rows * GRID_ROW + MARGIN;
        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(BACKGROUND);
            g.fillRect(0, 0, WIDTH, height);
            drawHeader(g);
            for (JsonNode panel : panels) {
                JsonNode grid = panel.path("gridPos");
                int x = (int) Math.round(MARGIN + grid.path("x").asInt() * COLUMN) + 4;
                int y = HEADER + grid.path("y").asInt() * GRID_ROW + 4;
                int w = (int) Math.round(grid.path("w").asInt() * COLUMN) - 8;
                int h = grid.path("h").asInt() * GRID_ROW - 8;
                drawPanel(g, panel, x, y, w, h);
            }
        } finally {
            g.dispose();
        }
        Files.createDirectories(output.toAbsolutePath().getParent());
        ImageIO.write(image, "png", output.toFile());
    }

    private void drawHeader(Graphics2D g) {
        g.setColor(TEXT);
        g.setFont(this.header);
        g.drawString(this.dashboard.json().path("title").asString(), MARGIN + 4, 30);
        g.setFont(this.small);
        int x = MARGIN + 4;
        for (var variable : this.variables.properties()) {
            String chip = variable.getKey() + " = " + variable.getValue().asString();
            int w = g.getFontMetrics().stringWidth(chip) + 16;
            g.setColor(PANEL);
            g.fill(new RoundRectangle2D.Double(x, 40, w, 18, 6, 6));
            g.setColor(BORDER);
            g.draw(new RoundRectangle2D.Double(x, 40, w, 18, 6, 6));
            g.setColor(TEXT);
            g.drawString(chip, x + 8, 53);
            x += w + 8;
        }
        String range = CLOCK.format(Instant.ofEpochSecond((long) this.start)) + " \u2013 "
                + CLOCK.format(Instant.ofEpochSecond((long) this.end)) + " UTC \u00b7 rendered from a real Prometheus by "
                + "PrometheusEndToEndTest (not a Grafana screenshot)";
        g.setColor(DIM);
        g.drawString(range, WIDTH - MARGIN - 4 - g.getFontMetrics().stringWidth(range), 53);
    }

    private void drawPanel(Graphics2D g, JsonNode panel, int x, int y, int w, int h) throws IOException {
        Shape box = new RoundRectangle2D.Double(x, y, w, h, 6, 6);
        g.setColor(PANEL);
        g.fill(box);
        g.setColor(BORDER);
        g.draw(box);
        g.setColor(TEXT);
        g.setFont(this.title);
        g.drawString(panel.path("title").asString(), x + 10, y + 20);
        List<Series> series = series(panel);
        if ("stat".equals(panel.path("type").asString())) {
            drawStat(g, panel, series, x, y + 28, w, h - 28);
        } else {
            drawTimeSeries(g, panel, series, x + 8, y + 30, w - 16, h - 36);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Stat

    private void drawStat(Graphics2D g, JsonNode panel, List<Series> series, int x, int y, int w, int h) {
        if (series.isEmpty()) {
            noData(g, x, y, w, h);
            return;
        }
        Series s = series.get(0);
        double value = s.last();
        Color color = thresholdColor(panel.path("fieldConfig").path("defaults").path("thresholds"), value);
        Path2D area = new Path2D.Double();
        double max = Math.max(1, s.max());
        area.moveTo(x + 1, y + h - 1);
        for (int i = 0; i < s.times.size(); i++) {
            double v = s.values.get(i);
            area.lineTo(xOf(s.times.get(i), x + 1, w - 2), y + h - 1 - (Double.isNaN(v) ? 0 : v) / max * (h * 0.45));
        }
        area.lineTo(x + w - 1, y + h - 1);
        area.closePath();
        g.setColor(alpha(color, 40));
        g.fill(area);
        JsonNode defaults = panel.path("fieldConfig").path("defaults");
        String text = format(defaults.path("decimals").isNumber() ? round(value, defaults.path("decimals").asInt()) : value,
                defaults.path("unit").asString("short"), true);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.min(40, h / 2)));
        FontMetrics m = g.getFontMetrics();
        g.setColor(color);
        g.drawString(text, x + (w - m.stringWidth(text)) / 2, y + h / 2 + m.getAscent() / 3);
    }

    private static Color thresholdColor(JsonNode thresholds, double value) {
        Color color = TEXT;
        for (JsonNode step : thresholds.path("steps")) {
            if (step.path("value").isNull() || step.path("value").isMissingNode() || value >= step.path("value").asDouble()) {
                color = NAMED.getOrDefault(step.path("color").asString(), TEXT);
            }
        }
        return color;
    }

    // ---------------------------------------------------------------------------------------------
    // Time series

    private void drawTimeSeries(Graphics2D g, JsonNode panel, List<Series> series, int x, int y, int w, int h) {
        if (series.isEmpty()) {
            noData(g, x, y, w, h);
            return;
        }
        String unit = panel.path("fieldConfig").path("defaults").path("unit").asString("short");
        g.setFont(this.small);
        FontMetrics m = g.getFontMetrics();
        boolean table = series.size() <= 4;
        List<String> labels = new ArrayList<>();
        for (Series s : series) {
            labels.add(table ? s.name : s.name + "  " + format(s.last(), unit, false));
        }
        int legendHeight = table ? 16 * (series.size() + 1) + 4 : flowLegendHeight(m, labels, w);
        int plotBottom = y + h - legendHeight - 26;
        double max = 0;
        for (Series s : series) {
            max = Math.max(max, s.max());
        }
        boolean integral = panel.path("fieldConfig").path("defaults").path("decimals").asInt(-1) == 0;
        double[] ticks = ticks(max == 0 ? 1 : max, integral);
        double top = ticks[ticks.length - 1];
        int axisWidth = 0;
        for (double tick : ticks) {
            axisWidth = Math.max(axisWidth, m.stringWidth(format(tick, unit, false)));
        }
        int plotLeft = x + axisWidth + 8;
        int plotWidth = x + w - plotLeft;
        int plotHeight = plotBottom - y - 6;
        int plotTop = y + 6;
        for (double tick : ticks) {
            int ty = (int) Math.round(plotBottom - tick / top * plotHeight);
            g.setColor(GRID);
            g.drawLine(plotLeft, ty, plotLeft + plotWidth, ty);
            g.setColor(DIM);
            String label = format(tick, unit, false);
            g.drawString(label, plotLeft - 6 - m.stringWidth(label), ty + 4);
        }
        double span = this.end - this.start;
        double every = span <= 60 ? 10 : span <= 180 ? 30 : 60;
        for (double t = Math.ceil(this.start / every) * every; t <= this.end; t += every) {
            int tx = (int) Math.round(xOf(t, plotLeft, plotWidth));
            g.setColor(GRID);
            g.drawLine(tx, plotTop, tx, plotBottom);
            g.setColor(DIM);
            String label = CLOCK.format(Instant.ofEpochSecond((long) t));
            g.drawString(label, tx - m.stringWidth(label) / 2, plotBottom + 14);
        }
        for (Series s : series) {
            drawLine(g, s, plotLeft, plotBottom, plotWidth, plotHeight, top);
        }
        int legendTop = plotBottom + 32;
        if (table) {
            drawTableLegend(g, series, unit, x, legendTop, w);
        } else {
            drawFlowLegend(g, series, labels, x, legendTop, w);
        }
    }

    private void drawLine(Graphics2D g, Series s, int left, int bottom, int width, int height, double top) {
        double step = s.step();
        List<Path2D> segments = new ArrayList<>();
        Path2D segment = null;
        double previous = Double.NaN;
        for (int i = 0; i < s.times.size(); i++) {
            double t = s.times.get(i);
            double v = s.values.get(i);
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                segment = null;
                continue;
            }
            double px = xOf(t, left, width);
            double py = bottom - Math.min(v, top) / top * height;
            if (segment == null || t - previous > 1.5 * step) {
                segment = new Path2D.Double();
                segment.moveTo(px, py);
                segments.add(segment);
            } else {
                segment.lineTo(px, py);
            }
            previous = t;
        }
        for (Path2D line : segments) {
            Polygon fill = new Polygon();
            double[] coords = new double[6];
            double firstX = Double.NaN;
            double lastX = Double.NaN;
            for (var it = line.getPathIterator(null); !it.isDone(); it.next()) {
                it.currentSegment(coords);
                if (Double.isNaN(firstX)) {
                    firstX = coords[0];
                }
                lastX = coords[0];
                fill.addPoint((int) Math.round(coords[0]), (int) Math.round(coords[1]));
            }
            fill.addPoint((int) Math.round(lastX), bottom);
            fill.addPoint((int) Math.round(firstX), bottom);
            g.setColor(alpha(s.color, 26));
            g.fill(fill);
            g.setColor(s.color);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(line);
            g.setStroke(new BasicStroke(1f));
        }
    }

    private void drawTableLegend(Graphics2D g, List<Series> series, String unit, int x, int y, int w) {
        g.setFont(this.small);
        FontMetrics m = g.getFontMetrics();
        int lastColumn = x + w - 90;
        int maxColumn = x + w - 10;
        g.setColor(DIM);
        g.drawString("Last", lastColumn - m.stringWidth("Last"), y);
        g.drawString("Max", maxColumn - m.stringWidth("Max"), y);
        int row = y + 16;
        for (Series s : series) {
            g.setColor(s.color);
            g.fillRect(x + 4, row - 6, 14, 3);
            g.setColor(TEXT);
            g.drawString(s.name, x + 24, row);
            String last = format(s.last(), unit, false);
            String max = format(s.max(), unit, false);
            g.drawString(last, lastColumn - m.stringWidth(last), row);
            g.drawString(max, maxColumn - m.stringWidth(max), row);
            row += 16;
        }
    }

    private static int flowLegendHeight(FontMetrics m, List<String> labels, int w) {
        int lines = 1;
        int x = 0;
        for (String label : labels) {
            int item = m.stringWidth(label) + 34;
            if (x + item > w && x > 0) {
                lines++;
                x = 0;
            }
            x += item;
        }
        return lines * 16 + 4;
    }

    private void drawFlowLegend(Graphics2D g, List<Series> series, List<String> labels, int x, int y, int w) {
        g.setFont(this.small);
        FontMetrics m = g.getFontMetrics();
        int cx = x;
        int cy = y;
        for (int i = 0; i < series.size(); i++) {
            int item = m.stringWidth(labels.get(i)) + 34;
            if (cx + item > x + w && cx > x) {
                cx = x;
                cy += 16;
            }
            g.setColor(series.get(i).color);
            g.fillRect(cx + 4, cy - 6, 14, 3);
            g.setColor(TEXT);
            g.drawString(labels.get(i), cx + 24, cy);
            cx += item;
        }
    }

    private void noData(Graphics2D g, int x, int y, int w, int h) {
        g.setFont(this.title);
        g.setColor(DIM);
        g.drawString("No data", x + w / 2 - 25, y + h / 2);
    }

    private double xOf(double t, double left, double width) {
        return left + (t - this.start) / (this.end - this.start) * width;
    }

    // ---------------------------------------------------------------------------------------------
    // Data

    /** One line: a legend name, its color, and the samples. */
    private static final class Series {
        final String name;
        Color color;
        final List<Double> times = new ArrayList<>();
        final List<Double> values = new ArrayList<>();

        Series(String name) {
            this.name = name;
        }

        double last() {
            for (int i = values.size() - 1; i >= 0; i--) {
                if (!values.get(i).isNaN()) {
                    return values.get(i);
                }
            }
            return Double.NaN;
        }

        double max() {
            double max = 0;
            for (double v : values) {
                if (!Double.isNaN(v) && !Double.isInfinite(v)) {
                    max = Math.max(max, v);
                }
            }
            return max;
        }

        double step() {
            return times.size() < 2 ? 1 : times.get(1) - times.get(0);
        }
    }

    private List<Series> series(JsonNode panel) throws IOException {
        List<Series> series = new ArrayList<>();
        for (JsonNode target : panel.path("targets")) {
            Path file = this.dataDir.resolve("panel-" + panel.path("id").asInt() + "-" + target.path("refId").asString() + ".json");
            if (!Files.exists(file)) {
                continue;
            }
            String legend = target.path("legendFormat").asString();
            for (JsonNode result : JSON.readTree(Files.readString(file)).path("result")) {
                Series s = new Series(legendName(legend, result.path("metric")));
                for (JsonNode sample : result.path("values")) {
                    s.times.add(sample.get(0).asDouble());
                    s.values.add(parse(sample.get(1).asString()));
                }
                series.add(s);
            }
        }
        JsonNode overrides = panel.path("fieldConfig").path("overrides");
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            s.color = PALETTE[i % PALETTE.length];
            for (JsonNode override : overrides) {
                JsonNode matcher = override.path("matcher");
                String option = matcher.path("options").asString();
                boolean matches = "byRegexp".equals(matcher.path("id").asString())
                        ? Pattern.compile(option).matcher(s.name).find() : option.equals(s.name);
                if (matches) {
                    for (JsonNode property : override.path("properties")) {
                        if ("color".equals(property.path("id").asString())) {
                            s.color = NAMED.getOrDefault(property.path("value").path("fixedColor").asString(), s.color);
                        }
                    }
                }
            }
        }
        return series;
    }

    private static String legendName(String format, JsonNode metric) {
        if (format.isEmpty() || "__auto".equals(format)) {
            StringBuilder name = new StringBuilder();
            metric.properties().forEach(e -> name.append(name.isEmpty() ? "" : ", ").append(e.getKey()).append('=')
                    .append(e.getValue().asString()));
            return name.isEmpty() ? "value" : name.toString();
        }
        Matcher label = LEGEND_LABEL.matcher(format);
        StringBuilder name = new StringBuilder();
        while (label.find()) {
            label.appendReplacement(name, Matcher.quoteReplacement(metric.path(label.group(1)).asString("")));
        }
        label.appendTail(name);
        return name.toString().strip();
    }

    private static double parse(String value) {
        return switch (value) {
            case "NaN" -> Double.NaN;
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(value);
        };
    }

    // ---------------------------------------------------------------------------------------------
    // Numbers

    /** 0 and about four "nice" steps up to at least {@code max}; whole steps if {@code integral}. */
    private static double[] ticks(double max, boolean integral) {
        double raw = integral ? Math.max(1, max / 4) : max / 4;
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = magnitude;
        for (double nice : new double[] {1, 2, 2.5, 5, 10}) {
            if (nice * magnitude >= raw && !(integral && nice * magnitude != Math.rint(nice * magnitude))) {
                step = nice * magnitude;
                break;
            }
        }
        int n = (int) Math.ceil(max / step - 1e-9);
        double[] ticks = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            ticks[i] = i * step;
        }
        return ticks;
    }

    private static double round(double value, int decimals) {
        double scale = Math.pow(10, decimals);
        return Math.rint(value * scale) / scale;
    }

    private static String format(double value, String unit, boolean stat) {
        if (Double.isNaN(value)) {
            return "\u2013";
        }
        return switch (unit) {
            case "s" -> value == 0 ? "0 s"
                    : value < 1e-3 ? trim(value * 1e6) + " \u00b5s"
                    : value < 1 ? trim(value * 1e3) + " ms" : trim(value) + " s";
            case "ops" -> trim(value) + (stat ? " ops/s" : "/s");
            default -> trim(value);
        };
    }

    private static String trim(double value) {
        if (Math.abs(value - Math.rint(value)) < 1e-9) {
            return String.valueOf((long) Math.rint(value));
        }
        return String.format(Locale.ROOT, Math.abs(value) >= 10 ? "%.1f" : "%.2f", value);
    }

    private static Color alpha(Color color, int alpha) {
        return new Color(color.getRed(), color.getGreen(), color.getBlue(), alpha);
    }
}
