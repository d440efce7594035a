package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Many leaks from few acquisition sites: bounded retention, one report per site with a count, a
 * rate-limited log, an exact count. Leaks are simulated ({@link Leaks#simulateCollection}), so this
 * does not depend on {@code System.gc()}.
 */
class LeakFloodTest {

    private static final int LEAKS = 20_000;

    private final Logger jul = Logger.getLogger(RefRegistry.class.getName());
    private final List<LogRecord> warnings = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                warnings.add(record);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private final RefRegistry registry = RefRegistry.builder().name("flood")
            .leakDetection(LeakDetection.PARANOID).build();

    @BeforeEach
    void captureWarnings() {
        jul.addHandler(capture);
    }

    @AfterEach
    void stopCapturing() {
        jul.removeHandler(capture);
    }

    private static void leakHere(ManagedResource<?> h) {
        Leaks.simulateCollection(h.acquire());
    }

    private static void leakThere(ManagedResource<?> h) {
        Leaks.simulateCollection(h.acquire());
    }

    /** Leaks from a site that differs by stack depth, so {@code depth} gives a distinct site. */
    private static void leakAtDepth(ManagedResource<?> h, int depth) {
        if (depth == 0) {
            Leaks.simulateCollection(h.acquire());
        } else {
            leakAtDepth(h, depth - 1);
        }
    }

    @Test
    void manyLeaksFromOneSiteAreOneCountedSiteOneWarningAndAnExactCount() {
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);

        for (int i = 0; i < LEAKS; i++) {
            leakHere(h);
        }
        await().until(() -> registry.leakCount() >= LEAKS);

        assertThat(registry.leakCount()).isEqualTo(LEAKS);
        assertThat(warnings).hasSizeLessThanOrEqualTo(2); // the site's first leak, at most one summary
        assertThat(h.openLeases().holders()).isEmpty(); // no per-leak record retained
        assertThat(h.openLeases().moreHolders()).isZero();
        ShutdownReport report = registry.shutdown(Duration.ZERO);
        assertThat(report.leakSites("leaky")).singleElement().satisfies(site -> {
            assertThat(site.count()).isEqualTo(LEAKS);
            assertThat(site.acquisitionTrace().getStackTrace()[0].getMethodName()).isEqualTo("leakHere");
        });
        assertThat(report.toString()).hasSizeLessThan(10_000).contains(LEAKS + " leaked leases (never closed)");
    }

    @Test
    void eachDistinctSiteIsReportedOnce() {
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);

        for (int i = 0; i < 3; i++) {
            leakHere(h);
            leakThere(h);
        }
        await().until(() -> registry.leakCount() == 6);

        assertThat(warnings).hasSize(2);
        assertThat(registry.shutdown(Duration.ZERO).leakSites("leaky"))
                .extracting(site -> site.acquisitionTrace().getStackTrace()[0].getMethodName(), LeakSite::count)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("leakHere", 3L),
                        org.assertj.core.groups.Tuple.tuple("leakThere", 3L));
    }

    @Test
    void sitesRetainedPerResourceAreCappedButTheCountStaysExact() {
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        int sites = LeakSite.MAX_PER_RESOURCE + 10;

        for (int depth = 0; depth < sites; depth++) {
            leakAtDepth(h, depth);
        }
        await().until(() -> registry.leakCount() == sites);

        List<LeakSite> reported = registry.shutdown(Duration.ZERO).leakSites("leaky");
        assertThat(reported).hasSize(LeakSite.MAX_PER_RESOURCE + 1); // the cap, plus one for the rest
        assertThat(reported).filteredOn(site -> site.acquisitionTrace() == null).singleElement()
                .satisfies(rest -> assertThat(rest.count()).isEqualTo(10));
        assertThat(reported.stream().mapToLong(LeakSite::count).sum()).isEqualTo(sites);
    }
}
