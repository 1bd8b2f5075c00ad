// In-process cost of turning a scene into a Plex edit (map + sanitize + validate + diff + query encoding).
#include <benchmark/benchmark.h>

#include "plex/client.hpp"
#include "sync/plan.hpp"

namespace {

void BM_PlanEdit(benchmark::State& state) {
  stash::Scene scene;
  scene.title = "Été à Montréal — 夏の記憶 (Director's Cut)";
  scene.details = std::string(2000, 'x') + "\nsecond line";
  scene.studio = "Nordlicht Studios";
  scene.date = "2023-07-14";
  for (int i = 0; i < 30; ++i) {
    scene.tags.push_back("Tag " + std::to_string(i));
  }
  for (int i = 0; i < 6; ++i) {
    scene.performers.push_back({std::to_string(i), "Performer " + std::to_string(i), ""});
  }
  plex::Item item;
  item.genres = {"Old", "Tag 1"};
  for (auto _ : state) {
    const auto prepared = fieldsync::prepare(scene, config::Settings{});
    auto plan = fieldsync::plan_edit(prepared.desired, item, {}, {});
    benchmark::DoNotOptimize(plex::build_query(plan.params));
  }
}
BENCHMARK(BM_PlanEdit);

} // namespace
