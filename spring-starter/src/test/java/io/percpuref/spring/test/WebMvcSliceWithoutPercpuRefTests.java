package io.percpuref.spring.test;

import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.guard.GuardedBeanPostProcessor;
import io.percpuref.spring.web.ResourceUnavailableExceptionHandler;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.test.web.servlet.MockMvc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

/** Without {@link AutoConfigurePercpuRef}, a {@code @WebMvcTest} slice has no percpu-ref at all: the controller runs unguarded. */
@WebMvcTest(CatalogController.class)
class WebMvcSliceWithoutPercpuRefTests {

    @Test
    void theSliceLeavesPercpuRefOut(@Autowired ApplicationContext context, @Autowired MockMvc mvc) throws Exception {
        assertThat(context.getBeanNamesForType(RefRegistry.class)).isEmpty();
        assertThat(context.getBeanNamesForType(GuardedBeanPostProcessor.class)).isEmpty();
        assertThat(context.getBeanNamesForType(ResourceUnavailableExceptionHandler.class)).isEmpty();
        mvc.perform(get("/catalog/k")).andExpect(status().isOk());
    }

    @SpringBootConfiguration
    @Import(CatalogController.class)
    static class SliceApplication {
    }
}
