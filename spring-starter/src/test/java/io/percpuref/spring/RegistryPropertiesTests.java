package io.percpuref.spring;

import io.percpuref.registry.Lease;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.OpenLeases;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The {@code percpu-ref.*} properties of the registry's builder: name, leak detection and its
 * sampling interval, reclaiming leaks, stuck threshold, callback executor. One test per condition.
 */
class RegistryPropertiesTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class));

    @Test
    void defaults() {
        this.runner.run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            assertThat(registry.name()).isEqualTo("default");
            assertThat(registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
            assertThat(registry.stuckThreshold()).isEqualTo(Duration.ofSeconds(60));
            assertThat(releaseThread(registry)).startsWith("percpu-ref-default-");
        });
    }

    @Test
    void nameLeakDetectionAndStuckThreshold() {
        this.runner.withPropertyValues("percpu-ref.name=orders", "percpu-ref.leak-detection=paranoid",
                "percpu-ref.stuck-threshold=5s").run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            assertThat(registry.name()).isEqualTo("orders");
            assertThat(registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
            assertThat(registry.stuckThreshold()).isEqualTo(Duration.ofSeconds(5));
        });
    }

    @Test
    void aSamplingIntervalOfOneTracksEveryLease() {
        this.runner.withPropertyValues("percpu-ref.leak-sampling-interval=1").run(context -> {
            ManagedResource<Object> cache = context.getBean(RefRegistry.class).register("cache", new Object(), r -> { });
            List<Lease<Object>> leases = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                leases.add(cache.acquire());
            }
            OpenLeases open = cache.openLeases();
            assertThat(open.count()).isEqualTo(20);
            assertThat(open.holders()).hasSize(20);
            assertThat(open.untracked()).isZero();
            leases.forEach(Lease::close);
        });
    }

    @Test
    void theDefaultSamplingIntervalTracksASample() {
        this.runner.run(context -> {
            ManagedResource<Object> cache = context.getBean(RefRegistry.class).register("cache", new Object(), r -> { });
            List<Lease<Object>> leases = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                leases.add(cache.acquire());
            }
            // One in 128 is tracked: all 20 tracked has a chance of 128^-20.
            assertThat(cache.openLeases().untracked()).isPositive();
            leases.forEach(Lease::close);
        });
    }

    @Test
    void aSamplingIntervalBelowOneFailsNamingTheProperty() {
        this.runner.withPropertyValues("percpu-ref.leak-sampling-interval=0").run(context ->
                assertThat(context).getFailure().rootCause()
                        .hasMessage("percpu-ref.leak-sampling-interval must be at least 1, was 0"));
    }

    @Test
    void aStuckThresholdOfZeroFailsNamingTheProperty() {
        this.runner.withPropertyValues("percpu-ref.stuck-threshold=0s").run(context ->
                assertThat(context).getFailure().rootCause()
                        .hasMessage("percpu-ref.stuck-threshold must be positive, was PT0S"));
    }

    @Test
    void aBlankNameFailsNamingTheProperty() {
        this.runner.withPropertyValues("percpu-ref.name= ").run(context ->
                assertThat(context).getFailure().rootCause()
                        .hasMessageContaining("percpu-ref.name must not be blank"));
    }

    @Test
    void aLeakIsReclaimedWhenReclaimLeaksIsOn() {
        this.runner.withPropertyValues("percpu-ref.leak-detection=paranoid", "percpu-ref.reclaim-leaks=true")
                .run(context -> {
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    ManagedResource<Object> cache = registry.register("cache", new Object(), r -> { });
                    leak(cache);
                    cache.kill();
                    awaitLeakCollected(registry);
                    await().atMost(Duration.ofSeconds(10)).until(() -> cache.state() == RefState.RELEASED);
                });
    }

    @Test
    void aLeakKeepsTheResourceDyingByDefault() {
        this.runner.withPropertyValues("percpu-ref.leak-detection=paranoid", "percpu-ref.shutdown.timeout=100ms")
                .run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            ManagedResource<Object> cache = registry.register("cache", new Object(), r -> { });
            leak(cache);
            cache.kill();
            awaitLeakCollected(registry);
            assertThat(cache.state()).isEqualTo(RefState.DYING);
        });
    }

    @Test
    void callbacksRunOnTheExecutorThePropertyNames() {
        this.runner.withPropertyValues("percpu-ref.callback-executor=refCallbacks")
                .withBean("refCallbacks", ThreadPoolTaskExecutor.class, () -> executor("ref-callbacks-"))
                .run(context -> {
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    assertThat(releaseThread(registry)).startsWith("ref-callbacks-");
                    assertThat(context.getBeanFactory().getDependentBeans("refCallbacks"))
                            .as("the registry is closed before its executor").contains("percpuRefRegistry");
                });
    }

    @Test
    void callbacksRunOnTheExecutorOfTheDocumentedName() {
        this.runner.withBean(PercpuRefAutoConfiguration.CALLBACK_EXECUTOR_BEAN_NAME, ThreadPoolTaskExecutor.class,
                        () -> executor("documented-"))
                .run(context -> assertThat(releaseThread(context.getBean(RefRegistry.class))).startsWith("documented-"));
    }

    @Test
    void thePropertyWinsOverTheDocumentedName() {
        this.runner.withPropertyValues("percpu-ref.callback-executor=refCallbacks")
                .withBean(PercpuRefAutoConfiguration.CALLBACK_EXECUTOR_BEAN_NAME, ThreadPoolTaskExecutor.class,
                        () -> executor("documented-"))
                .withBean("refCallbacks", ThreadPoolTaskExecutor.class, () -> executor("named-"))
                .run(context -> assertThat(releaseThread(context.getBean(RefRegistry.class))).startsWith("named-"));
    }

    @Test
    void otherExecutorsAreNotTakenForCallbacks() {
        this.runner.withBean("applicationTaskExecutor", ThreadPoolTaskExecutor.class, () -> executor("app-"))
                .run(context -> assertThat(releaseThread(context.getBean(RefRegistry.class)))
                        .startsWith("percpu-ref-default-"));
    }

    @Test
    void aMissingExecutorBeanFailsNamingIt() {
        this.runner.withPropertyValues("percpu-ref.callback-executor=nope").run(context ->
                assertThat(context).getFailure().rootCause().hasMessage(
                        "percpu-ref.callback-executor=nope: there is no bean named 'nope' to run the callbacks"
                                + " of the percpu-ref registry"));
    }

    @Test
    void aBeanThatIsNoExecutorFailsNamingIt() {
        this.runner.withPropertyValues("percpu-ref.callback-executor=notAnExecutor")
                .withBean("notAnExecutor", String.class, () -> "text")
                .run(context -> assertThat(context).getFailure().rootCause().hasMessage(
                        "percpu-ref.callback-executor=notAnExecutor: bean 'notAnExecutor' is a java.lang.String,"
                                + " not a java.util.concurrent.Executor; it cannot run the callbacks of the percpu-ref"
                                + " registry"));
    }

    @Test
    void aCustomizerMayStillReplaceTheConfiguredExecutor() {
        Executor direct = Runnable::run;
        this.runner.withPropertyValues("percpu-ref.callback-executor=refCallbacks")
                .withBean("refCallbacks", ThreadPoolTaskExecutor.class, () -> executor("named-"))
                .withBean(RefRegistryCustomizer.class, () -> builder -> builder.callbackExecutor(direct))
                .run(context -> assertThat(releaseThread(context.getBean(RefRegistry.class)))
                        .isEqualTo(Thread.currentThread().getName()));
    }

    @Test
    void theDrainAtShutdownReleasesOnTheConfiguredExecutor() {
        CompletableFuture<String> releasedOn = new CompletableFuture<>();
        this.runner.withPropertyValues("percpu-ref.callback-executor=refCallbacks")
                .withBean("refCallbacks", ThreadPoolTaskExecutor.class, () -> executor("ref-callbacks-"))
                .run(context -> context.getBean(RefRegistry.class).register("cache", new Object(),
                        r -> releasedOn.complete(Thread.currentThread().getName())));
        assertThat(releasedOn).isCompletedWithValueMatching(name -> name.startsWith("ref-callbacks-"));
    }

    private static ThreadPoolTaskExecutor executor(String prefix) {
        ThreadPoolTaskExecutor executor = new ThreadPoolTaskExecutor();
        executor.setThreadNamePrefix(prefix);
        executor.setCorePoolSize(1);
        return executor;
    }

    /** The thread a release action runs on: a resource registered and killed with no lease open. */
    private static String releaseThread(RefRegistry registry) throws Exception {
        CompletableFuture<String> thread = new CompletableFuture<>();
        registry.register("probe-" + System.nanoTime(), new Object(), r -> thread.complete(Thread.currentThread().getName()))
                .kill();
        return thread.get(10, TimeUnit.SECONDS);
    }

    /** Acquires a lease and drops it without closing it. */
    private static void leak(ManagedResource<Object> resource) {
        resource.acquire();
    }

    private static void awaitLeakCollected(RefRegistry registry) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            System.gc();
            return registry.leakCount() == 1;
        });
    }
}
