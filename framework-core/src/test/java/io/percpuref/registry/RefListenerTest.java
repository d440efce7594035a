package io.percpuref.registry;

import io.percpuref.PercpuRefException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class RefListenerTest {

    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
    private final RefRegistry registry = RefRegistry.builder().errorReporter(reported::add).build();
    private final RecordingListener recorder = new RecordingListener();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    @Test
    void listenerSeesRegisteredKilledConfirmedReleasedInOrder() throws Exception {
        registry.addListener(recorder);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(recorder.events).containsExactly("registered:r", "killed:r", "confirmed:r", "released:r");
    }

    @Test
    void eventsKeepTheirOrderWithADirectCallbackExecutor() {
        RefRegistry inline = RefRegistry.builder().callbackExecutor(Runnable::run).build();
        inline.addListener(recorder);
        ManagedResource<TestResource> h = inline.register("r", new TestResource(), TestResource::close);

        h.kill();

        assertThat(recorder.events).containsExactly("registered:r", "killed:r", "confirmed:r", "released:r");
    }

    @Test
    void releasedEventDescribesTheReleasedResource() throws Exception {
        registry.addListener(recorder);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(recorder.released).singleElement().satisfies(info -> {
            assertThat(info.name()).isEqualTo("r");
            assertThat(info.state()).isEqualTo(RefState.RELEASED);
            assertThat(info.inFlight()).isZero();
        });
    }

    @Test
    void aThrowingListenerDoesNotStopTheListenersAfterIt() throws Exception {
        registry.addListener(new ThrowingListener());
        registry.addListener(recorder);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(recorder.events).containsExactly("registered:r", "killed:r", "confirmed:r", "released:r");
    }

    @Test
    void aThrowingListenerLeavesTheLifecycleIntact() throws Exception {
        registry.addListener(new ThrowingListener());
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        h.kill();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(resource.closes()).isEqualTo(1);
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(registry.find("r")).isEmpty();
        assertThat(registry.releaseCount()).isEqualTo(1);
        assertThat(registry.dyingCount()).isZero();
    }

    @Test
    void aThrowingListenerIsReportedWithTheResourceNameAndEvent() throws Exception {
        registry.addListener(new ThrowingListener());

        registry.register("r", new TestResource(), TestResource::close);

        assertThat(reported).singleElement().satisfies(e -> {
            assertThat(e.refName()).isEqualTo("r");
            assertThat(e.refState()).isEqualTo("LIVE");
            assertThat(e.getMessage()).contains("onRegistered");
            assertThat(e.getCause()).hasMessage("listener bug");
        });
    }

    @Test
    void aRemovedListenerReceivesNoMoreEvents() {
        registry.addListener(recorder);
        registry.register("before", new TestResource(), TestResource::close);

        assertThat(registry.removeListener(recorder)).isTrue();
        registry.register("after", new TestResource(), TestResource::close);

        assertThat(recorder.events).containsExactly("registered:before");
    }

    @Test
    void aNullListenerIsRejected() {
        assertThatThrownBy(() -> registry.addListener(null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("listener");
    }

    @Test
    void confirmedEventCarriesTheKillToConfirmLatency() {
        registry.addListener(recorder);
        List<RefInfo> confirmed = new CopyOnWriteArrayList<>();
        registry.addListener(new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                confirmed.add(info);
            }
        });
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();

        h.kill();

        await().until(() -> !confirmed.isEmpty());
        assertThat(confirmed.get(0).state()).isEqualTo(RefState.DYING);
        assertThat(confirmed.get(0).dyingFor()).isGreaterThanOrEqualTo(Duration.ZERO);
    }

    /** Throws from every event. */
    private static final class ThrowingListener implements RefListener {
        @Override
        public void onRegistered(RefInfo info) {
            throw new IllegalStateException("listener bug");
        }

        @Override
        public void onKilled(RefInfo info) {
            throw new IllegalStateException("listener bug");
        }

        @Override
        public void onConfirmed(RefInfo info) {
            throw new IllegalStateException("listener bug");
        }

        @Override
        public void onReleased(RefInfo info) {
            throw new IllegalStateException("listener bug");
        }
    }
}
