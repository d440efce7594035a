package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class CurrentResourceTest {

    private final RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();

    @Test
    void acquireLeasesTheCurrentGeneration() {
        TestResource first = new TestResource();
        CurrentResource<TestResource> holder = registry.current("index", first, TestResource::close);

        try (Lease<TestResource> lease = holder.acquire()) {
            assertThat(lease.resource()).isSameAs(first);
        }
        assertThat(holder.generation()).isEqualTo(1);
        assertThat(holder.current().name()).isEqualTo("index#1");
    }

    @Test
    void swapPublishesTheNewResourceAndDrainsTheOldOneInTheBackground() throws Exception {
        TestResource first = new TestResource();
        TestResource second = new TestResource();
        CurrentResource<TestResource> holder = registry.current("index", first, TestResource::close);
        Lease<TestResource> old = holder.acquire();

        CompletionStage<Void> oldReleased = holder.swap(second);

        try (Lease<TestResource> lease = holder.acquire()) {
            assertThat(lease.resource()).isSameAs(second);
        }
        assertThat(holder.generation()).isEqualTo(2);
        assertThat(old.resource()).isSameAs(first); // the old lease stays valid while it drains
        assertThat(first.closes()).isZero();
        old.close();
        oldReleased.toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(first.closes()).isEqualTo(1);
        assertThat(second.closes()).isZero();
    }

    @Test
    void onlyUndrainedGenerationsStayRegistered() throws Exception {
        CurrentResource<TestResource> holder = registry.current("index", new TestResource(), TestResource::close);
        for (int i = 0; i < 100; i++) {
            holder.swap(new TestResource()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        }

        assertThat(registry.snapshot()).extracting(RefInfo::name).containsExactly("index#101");
    }

    @Test
    void acquiresRacingSwapsAlwaysGetALiveGeneration() throws Exception {
        CurrentResource<TestResource> holder = registry.current("index", new TestResource(), TestResource::close);
        AtomicBoolean stop = new AtomicBoolean();
        List<CompletableFuture<Integer>> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            readers.add(CompletableFuture.supplyAsync(() -> {
                int leases = 0;
                while (!stop.get()) {
                    try (Lease<TestResource> lease = holder.acquire()) {
                        assertThat(lease.resource().closes()).isZero(); // never a released generation
                        leases++;
                    }
                }
                return leases;
            }, r -> new Thread(r).start()));
        }
        for (int i = 0; i < 200; i++) {
            holder.swap(new TestResource());
        }
        stop.set(true);

        for (CompletableFuture<Integer> reader : readers) {
            assertThat(reader.get(30, TimeUnit.SECONDS)).isPositive();
        }
    }

    @Test
    void closeKillsTheCurrentGenerationAndRefusesFurtherAcquiresAndSwaps() throws Exception {
        TestResource resource = new TestResource();
        CurrentResource<TestResource> holder = registry.current("index", resource, TestResource::close);

        holder.close().toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(resource.closes()).isEqualTo(1);
        assertThat(holder.tryAcquire()).isEmpty();
        assertThatThrownBy(holder::acquire)
                .isInstanceOf(ResourceUnavailableException.class)
                .hasMessageContaining("index");
        assertThatThrownBy(() -> holder.swap(new TestResource()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'index'").hasMessageContaining("closed");
    }

    @Test
    void aNewHolderOfANameWhoseOldGenerationIsStillDrainingSkipsItsNumber() throws Exception {
        CurrentResource<TestResource> old = registry.current("index", new TestResource(), TestResource::close);
        Lease<TestResource> held = old.acquire();
        old.close(); // index#1 drains while `held` is open

        CurrentResource<TestResource> fresh = registry.current("index", new TestResource(), TestResource::close);

        assertThat(fresh.current().name()).isEqualTo("index#2");
        assertThat(fresh.generation()).isEqualTo(2);
        held.close();
        fresh.swap(new TestResource()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(fresh.current().name()).isEqualTo("index#3");
    }

    @Test
    void registryShutdownKillsTheCurrentGeneration() {
        CurrentResource<TestResource> holder = registry.current("index", new TestResource(), TestResource::close);

        registry.shutdown(java.time.Duration.ofSeconds(10));

        assertThat(holder.tryAcquire()).isEmpty();
        await().until(() -> holder.current().state() == RefState.RELEASED);
    }
}
