package io.percpuref.spring.test;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Import;
import org.springframework.core.env.Environment;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

/**
 * The example of docs/spring-boot.md: a {@code @WebMvcTest} slice with {@link AutoConfigurePercpuRef}
 * guards its controller and answers a refused call with 503. The resource is registered by the
 * test (a slice creates none), after the refresh: the slice only warns about unknown names.
 */
@WebMvcTest(CatalogController.class)
@AutoConfigurePercpuRef
class WebMvcSliceTests {

    @Autowired
    private MockMvc mvc;

    @Autowired
    private RefRegistry registry;

    private ManagedResource<Object> catalog;

    @BeforeEach
    void registerTheCatalog() {
        this.catalog = this.registry.register("catalog", new Object(), resource -> { });
    }

    @AfterEach
    void releaseTheCatalog() throws Exception {
        this.catalog.tryKill();
        this.catalog.released().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void aLiveCatalogAnswers() throws Exception {
        this.mvc.perform(get("/catalog/k")).andExpect(status().isOk()).andExpect(content().string("value of k"));
    }

    @Test
    void aKilledCatalogIsA503() throws Exception {
        this.catalog.kill();
        this.mvc.perform(get("/catalog/k"))
                .andExpect(status().isServiceUnavailable())
                .andExpect(header().string("Retry-After", "1"))
                .andExpect(content().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.resource").value("catalog"));
        assertThat(this.registry.rejectionCount()).isEqualTo(1);
    }

    @Test
    void unknownNamesOnlyWarnInTheSlice(@Autowired Environment environment) {
        assertThat(environment.getProperty("percpu-ref.guard.unknown-resource")).isEqualTo("WARN");
    }

    @SpringBootConfiguration
    @Import(CatalogController.class)
    static class SliceApplication {
    }
}

@RestController
class CatalogController {

    @Guarded("catalog")
    @GetMapping("/catalog/{key}")
    public String get(@PathVariable String key) {
        return "value of " + key;
    }
}
