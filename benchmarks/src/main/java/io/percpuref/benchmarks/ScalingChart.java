package io.percpuref.benchmarks;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.text.DecimalFormat;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.LogarithmicAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYErrorRenderer;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

/**
 * Draws the scaling chart of docs/benchmarks.md: get+put pairs per microsecond (all threads
 * together) against the number of threads, one line per alternative, with JMH's 99.9 % confidence
 * interval as error bars, from the JMH JSON files {@code get-put-t<N>.json} that {@link Suite}
 * writes. Both axes are logarithmic (base 2 for threads).
 *
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar io.percpuref.benchmarks.ScalingChart benchmarks/results/quick-... [title note]
 * </pre>
 *
 * Writes {@code scaling.png} (1000 x 620) into the same directory. {@code run.sh} calls it after the
 * suite, with the machine description as the note.
 */
public final class ScalingChart {

    /** JMH method name and legend label, in legend order. */
    private static final Map<String, String> SERIES = new LinkedHashMap<>();

    static {
        SERIES.put("percpuRef", "PercpuRef get+put");
        SERIES.put("atomicLong", "AtomicLong ref count");
        SERIES.put("evenOdd", "even/odd (Netty-style)");
        SERIES.put("longAdder", "LongAdder (no zero detection)");
        SERIES.put("stampedLock", "StampedLock read");
        SERIES.put("semaphore", "Semaphore");
    }

    private static final Color[] COLORS = {
        new Color(0xD62728), new Color(0x1F77B4), new Color(0x2CA02C),
        new Color(0x7F7F7F), new Color(0x9467BD), new Color(0xFF7F0E),
    };

    private ScalingChart() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: ScalingChart <results directory> [note for the title]");
            System.exit(2);
        }
        Path dir = Paths.get(args[0]);
        String note = args.length > 1 ? args[1] : "";
        Path png = dir.resolve("scaling.png");
        write(dir, note, png);
        System.out.println("Wrote " + png);
    }

    /** Reads every {@code get-put-t*.json} in {@code dir} and writes the chart to {@code png}. */
    static void write(Path dir, String note, Path png) throws IOException {
        Map<String, YIntervalSeries> series = new LinkedHashMap<>();
        SERIES.forEach((method, label) -> series.put(method, new YIntervalSeries(label)));
        TreeSet<Integer> threadCounts = new TreeSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "get-put-t*.json")) {
            for (Path file : files) {
                JsonArray runs = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonArray();
                for (JsonElement e : runs) {
                    JsonObject run = e.getAsJsonObject();
                    String benchmark = run.get("benchmark").getAsString();
                    String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
                    YIntervalSeries s = series.get(method);
                    if (s == null || !defaultParams(run)) {
                        continue;
                    }
                    int threads = run.get("threads").getAsInt();
                    JsonObject metric = run.getAsJsonObject("primaryMetric");
                    double score = metric.get("score").getAsDouble();
                    JsonArray ci = metric.getAsJsonArray("scoreConfidence");
                    double low = finiteOr(ci.get(0).getAsDouble(), score);
                    double high = finiteOr(ci.get(1).getAsDouble(), score);
                    s.add(threads, score, Math.max(low, score / 100), high);
                    threadCounts.add(threads);
                }
            }
        }
        if (threadCounts.isEmpty()) {
            throw new IOException("no get-put-t*.json results in " + dir);
        }
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        series.values().stream().filter(s -> s.getItemCount() > 0).forEach(data::addSeries);

        LogAxis threadsAxis = new LogAxis("threads (log2)");
        threadsAxis.setBase(2);
        threadsAxis.setTickUnit(new NumberTickUnit(1));
        threadsAxis.setNumberFormatOverride(new DecimalFormat("0"));
        threadsAxis.setRange(threadCounts.first() / 1.3, threadCounts.last() * 1.3);
        LogarithmicAxis opsAxis = new LogarithmicAxis("get+put pairs per µs, all threads (log)");
        opsAxis.setAllowNegativesFlag(false);
        opsAxis.setStrictValuesFlag(false);

        XYErrorRenderer renderer = new XYErrorRenderer();
        renderer.setDrawXError(false);
        renderer.setDefaultLinesVisible(true);
        renderer.setDefaultShapesVisible(true);
        renderer.setCapLength(6);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            Color c = COLORS[indexOf(data.getSeries(i).getKey().toString()) % COLORS.length];
            renderer.setSeriesPaint(i, c);
            renderer.setSeriesStroke(i, new BasicStroke(i == 0 ? 3f : 1.6f));
        }
        XYPlot plot = new XYPlot(data, threadsAxis, opsAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        String title = "One shared object, get+put pairs, JMH throughput" + (note.isEmpty() ? "" : "\n" + note);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT.deriveFont(15f), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 620);
    }

    /** Only the default parameters (PercpuRef's default stripes) go into the chart. */
    private static boolean defaultParams(JsonObject run) {
        JsonObject params = run.getAsJsonObject("params");
        return params == null || !params.has("stripes") || "default".equals(params.get("stripes").getAsString());
    }

    private static double finiteOr(double value, double fallback) {
        return Double.isFinite(value) ? value : fallback;
    }

    private static int indexOf(String label) {
        int i = 0;
        for (String l : SERIES.values()) {
            if (l.equals(label)) {
                return i;
            }
            i++;
        }
        return 0;
    }

}
