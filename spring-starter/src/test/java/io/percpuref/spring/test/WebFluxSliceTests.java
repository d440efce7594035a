package io.percpuref.spring.test;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;
import io.percpuref.spring.autoconfigure.PercpuRefProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.webflux.test.autoconfigure.WebFluxTest;
import org.springframework.context.annotation.Import;
import org.springframework.core.env.Environment;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@code @WebFluxTest} slice with {@link AutoConfigurePercpuRef}: the guard follows the
 * {@code Mono}, and a refused call is a 503 problem detail. {@code unknownResource = FAIL} is
 * mapped to the property.
 */
@WebFluxTest(ReactiveCatalogController.class)
@AutoConfigurePercpuRef(unknownResource = PercpuRefProperties.Guard.UnknownResource.FAIL)
class WebFluxSliceTests {

    @Autowired
    private WebTestClient client;

    @Autowired
    private RefRegistry registry;

    @Test
    void aLiveCatalogAnswersAndAKilledOneIsA503() throws Exception {
        this.client.get().uri("/reactive/k").exchange().expectStatus().isOk().expectBody(String.class)
                .isEqualTo("value of k");
        ManagedResource<?> catalog = this.registry.find("reactive-catalog").orElseThrow();
        catalog.kill();
        catalog.released().toCompletableFuture().get(5, TimeUnit.SECONDS);
        this.client.get().uri("/reactive/k").exchange()
                .expectStatus().isEqualTo(503)
                .expectHeader().valueEquals("Retry-After", "1")
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.resource").isEqualTo("reactive-catalog");
    }

    @Test
    void theAttributeSetsTheProperty(@Autowired Environment environment) {
        assertThat(environment.getProperty("percpu-ref.guard.unknown-resource")).isEqualTo("FAIL");
    }

    /** With FAIL, the name must be registered when the context has been refreshed: here, by a bean. */
    @SpringBootConfiguration
    @Import(ReactiveCatalogController.class)
    static class SliceApplication {

        @org.springframework.context.annotation.Bean
        ManagedResource<Object> reactiveCatalog(RefRegistry registry) {
            return registry.register("reactive-catalog", new Object(), resource -> { });
        }
    }
}

@RestController
class ReactiveCatalogController {

    @Guarded("reactive-catalog")
    @GetMapping("/reactive/{key}")
    public Mono<String> get(@PathVariable String key) {
        return Mono.just("value of " + key);
    }
}
