package io.percpuref.examples.aio;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;

import java.io.PrintStream;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** Prints the meters of a registry, one per line, in name order: what a scrape would show. */
final class MetricsReport {

    private MetricsReport() {
    }

    static void print(MeterRegistry meters, PrintStream out) {
        List<Meter> sorted = meters.getMeters().stream()
                .sorted(Comparator.comparing(MetricsReport::label))
                .toList();
        for (Meter m : sorted) {
            out.printf("  %-44s %s%n", label(m), value(m));
        }
    }

    private static String label(Meter m) {
        List<Tag> tags = m.getId().getTags();
        return m.getId().getName() + (tags.isEmpty() ? ""
                : tags.stream().map(t -> t.getKey() + "=" + t.getValue()).collect(Collectors.joining(",", "{", "}")));
    }

    private static String value(Meter m) {
        if (m instanceof Gauge g) {
            return String.format("%.0f", g.value());
        }
        if (m instanceof FunctionCounter c) {
            return String.format("%.0f", c.count());
        }
        if (m instanceof Timer t) {
            return String.format("count %d, mean %.3f ms, max %.3f ms", t.count(), t.mean(TimeUnit.MILLISECONDS),
                    t.max(TimeUnit.MILLISECONDS));
        }
        StringBuilder sb = new StringBuilder();
        m.measure().forEach(ms -> sb.append(ms.getStatistic().getTagValueRepresentation()).append(' ')
                .append(ms.getValue()).append(' '));
        return sb.toString().trim();
    }
}
