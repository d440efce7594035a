package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.ManagedResource;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.concurrent.ConcurrentMapCacheManager;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Where the guard sits relative to {@code @Async} and {@code @Cacheable}, as docs/spring-boot.md describes. */
class AdvisorOrderTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(GuardedMethodsTests.Resources.class);

    @Test
    void asyncRunsOutsideTheGuardSoAQueuedTaskHoldsNoLeaseAndIsRefusedWhenItStarts() {
        this.runner.withUserConfiguration(AsyncConfig.class).run(context -> {
            ThreadPoolTaskExecutor executor = context.getBean("taskExecutor", ThreadPoolTaskExecutor.class);
            CountDownLatch blocker = new CountDownLatch(1);
            executor.execute(() -> {
                try {
                    blocker.await(10, TimeUnit.SECONDS);
                }
                catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            ManagedResource<?> db = GuardedMethodsTests.db(context);
            CompletableFuture<String> queued = context.getBean(AsyncService.class).call();
            assertThat(db.info().inFlight()).as("queued, no lease").isZero();
            db.kill();
            await().until(() -> context.getBean(GuardedMethodsTests.Db.class).closes() == 1);
            blocker.countDown();
            assertThatThrownBy(() -> queued.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void cacheHitIsRefusedDuringADrainWithTheDefaultOrder() {
        this.runner.withUserConfiguration(CacheConfig.class).run(context -> {
            CachedService cached = context.getBean(CachedService.class);
            assertThat(cached.find("a")).isEqualTo("value a");
            GuardedMethodsTests.db(context).kill();
            assertThatThrownBy(() -> cached.find("a")).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void cacheHitIsServedDuringADrainWithTheGuardInsideTheCache() {
        this.runner.withUserConfiguration(CacheConfig.class).withPropertyValues("percpu-ref.guard.order=2147483647")
                .run(context -> {
                    CachedService cached = context.getBean(CachedService.class);
                    assertThat(cached.find("a")).isEqualTo("value a");
                    GuardedMethodsTests.db(context).kill();
                    assertThat(cached.find("a")).isEqualTo("value a");
                    assertThatThrownBy(() -> cached.find("b")).isInstanceOf(ResourceUnavailableException.class);
                });
    }

    @Configuration(proxyBeanMethods = false)
    @EnableAsync
    static class AsyncConfig {
        @Bean
        ThreadPoolTaskExecutor taskExecutor() {
            ThreadPoolTaskExecutor executor = new ThreadPoolTaskExecutor();
            executor.setCorePoolSize(1);
            executor.setMaxPoolSize(1);
            return executor;
        }

        @Bean
        AsyncService asyncService() {
            return new AsyncService();
        }
    }

    public static class AsyncService {
        @Async
        @Guarded("db")
        public CompletableFuture<String> call() {
            return CompletableFuture.completedFuture("ran");
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableCaching
    static class CacheConfig {
        @Bean
        CacheManager cacheManager() {
            return new ConcurrentMapCacheManager("values");
        }

        @Bean
        CachedService cachedService() {
            return new CachedService();
        }
    }

    public static class CachedService {
        @Cacheable("values")
        @Guarded("db")
        public String find(String key) {
            return "value " + key;
        }
    }
}
