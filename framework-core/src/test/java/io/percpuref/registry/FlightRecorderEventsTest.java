package io.percpuref.registry;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The registry's JFR events ({@link RegistryEvents}), recorded in-process with a {@link Recording},
 * dumped and parsed with {@link RecordingFile}: what a {@code jfr print} of a production recording
 * shows.
 */
class FlightRecorderEventsTest {

    @TempDir
    Path dir;

    private final RefRegistry registry = RefRegistry.builder().name("jfr-test").callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.PARANOID).stuckThreshold(Duration.ofMillis(30)).build();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    private Recording recording() {
        Recording recording = new Recording();
        for (String event : List.of("Kill", "Confirm", "Release", "Leak", "Stuck", "Refusal")) {
            recording.enable("io.percpuref." + event).withoutThreshold();
        }
        recording.start();
        return recording;
    }

    private List<RecordedEvent> stop(Recording recording) throws IOException {
        recording.stop();
        Path file = dir.resolve("registry.jfr");
        recording.dump(file);
        recording.close();
        return RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().startsWith("io.percpuref."))
                .filter(e -> "jfr-test".equals(e.getString("registry")))
                .toList();
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals("io.percpuref." + name)).toList();
    }

    @Test
    void aKillItsConfirmAndTheReleaseAreRecordedWithRegistryResourceAndLatencies() throws Exception {
        Recording recording = recording();
        ManagedResource<TestResource> h = registry.register("aio-ctx-1", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        h.kill();
        Thread.sleep(5);
        lease.close();
        h.released().toCompletableFuture().join();

        List<RecordedEvent> events = stop(recording);

        assertThat(named(events, "Kill")).singleElement().satisfies(e -> {
            assertThat(e.getString("resource")).isEqualTo("aio-ctx-1");
            assertThat(e.getLong("inFlight")).isEqualTo(1);
            assertThat(e.getStackTrace().getFrames()).anySatisfy(f ->
                    assertThat(f.getMethod().getType().getName()).isEqualTo(FlightRecorderEventsTest.class.getName()));
        });
        assertThat(named(events, "Confirm")).singleElement()
                .satisfies(e -> assertThat(e.getString("resource")).isEqualTo("aio-ctx-1"));
        assertThat(named(events, "Release")).singleElement().satisfies(e -> {
            assertThat(e.getString("resource")).isEqualTo("aio-ctx-1");
            assertThat(e.getDuration("drainTime")).isGreaterThanOrEqualTo(Duration.ofMillis(5));
            assertThat(e.getBoolean("failed")).isFalse();
        });
    }

    @Test
    void aFailedReleaseActionIsRecordedAsFailed() throws Exception {
        Recording recording = recording();
        ManagedResource<TestResource> h = registry.register("broken", new TestResource(), r -> {
            throw new IllegalStateException("close failed");
        });
        h.kill();
        h.released().toCompletableFuture().join();

        assertThat(named(stop(recording), "Release")).singleElement()
                .satisfies(e -> assertThat(e.getBoolean("failed")).isTrue());
    }

    @Test
    void aLeakIsRecordedWithTheAcquiringThreadAndSite() throws Exception {
        Recording recording = recording();
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        Leaks.simulateCollection(h.acquire());
        await().until(() -> registry.leakCount() == 1);

        assertThat(named(stop(recording), "Leak")).singleElement().satisfies(e -> {
            assertThat(e.getString("resource")).isEqualTo("leaky");
            assertThat(e.getString("acquiredBy")).isEqualTo(Thread.currentThread().getName());
            assertThat(e.getString("acquisitionSite")).startsWith(FlightRecorderEventsTest.class.getName()
                    + ".aLeakIsRecordedWithTheAcquiringThreadAndSite(");
            assertThat(e.getBoolean("reclaimed")).isFalse();
        });
    }

    @Test
    void aStuckResourceIsRecordedWithItsOldestHolder() throws Exception {
        Recording recording = recording();
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        h.kill();
        await().until(() -> registry.stuckCount() == 1);
        lease.close();

        assertThat(named(stop(recording), "Stuck")).singleElement().satisfies(e -> {
            assertThat(e.getString("resource")).isEqualTo("stuck");
            assertThat(e.getDuration("dyingFor")).isGreaterThanOrEqualTo(Duration.ofMillis(30));
            assertThat(e.getLong("trackedLeases")).isEqualTo(1);
            assertThat(e.getLong("untrackedLeases")).isZero();
            assertThat(e.getString("oldestTrackedBy")).isEqualTo(Thread.currentThread().getName());
            assertThat(e.getString("oldestTrackedSite")).contains("aStuckResourceIsRecordedWithItsOldestHolder");
        });
    }

    @Test
    void aRefusalStormIsSampledAndTheEventsCountEveryRefusal() throws Exception {
        ManagedResource<TestResource> h = registry.register("gone", new TestResource(), TestResource::close);
        h.kill();
        Recording recording = recording();
        long before = registry.rejectionCount();
        long startNanos = System.nanoTime();
        while (System.nanoTime() - startNanos < 250_000_000L) {
            h.tryAcquire();
        }
        long refused = registry.rejectionCount() - before;

        List<RecordedEvent> refusals = named(stop(recording), "Refusal");

        // 250 ms of refusals: one event at the start and at most one per 100 ms after it.
        assertThat(refused).isGreaterThan(1000);
        assertThat(refusals).hasSizeBetween(1, 4);
        assertThat(refusals).allSatisfy(e -> {
            assertThat(e.getString("resource")).isEqualTo("gone");
            assertThat(e.getString("state")).isIn("DYING", "RELEASED");
        });
        long counted = refusals.stream().mapToLong(e -> e.getLong("refusals")).sum();
        assertThat(counted).isPositive().isLessThanOrEqualTo(refused + before);
    }

    @Test
    void aRefusalOfAnUnknownNameIsRecordedToo() throws Exception {
        Recording recording = recording();
        try {
            registry.acquire("nobody");
        } catch (RuntimeException expected) {
            // refused: counted and recorded
        }

        assertThat(named(stop(recording), "Refusal")).singleElement().satisfies(e -> {
            assertThat(e.getString("resource")).isEqualTo("nobody");
            assertThat(e.getString("state")).isEqualTo("RELEASED");
            assertThat(e.getLong("refusals")).isEqualTo(1);
        });
    }

    @Test
    void withoutARecordingNoEventIsEnabled() {
        assertThat(new RegistryEvents.Kill().isEnabled()).isFalse();
        assertThat(new RegistryEvents.Refusal().isEnabled()).isFalse();
    }
}
