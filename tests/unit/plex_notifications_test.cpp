// Which PMS notification messages name a library change (plex/notifications.hpp).
#include <gtest/gtest.h>

#include "plex/notifications.hpp"

namespace {

using Sections = std::vector<std::string>;

TEST(PlexNotifications, LibraryTimelineEntriesNameTheirSectionWhateverTheIdType) {
  // Section ids as strings and as numbers: which one a PMS release sends is not known.
  EXPECT_EQ(plex::changed_sections(R"({"NotificationContainer":{"type":"timeline","size":2,"TimelineEntry":[
      {"identifier":"com.plexapp.plugins.library","sectionID":"3","itemID":"1005","type":1,"state":0,"metadataState":"created"},
      {"identifier":"com.plexapp.plugins.library","sectionID":7,"itemID":1006,"type":1,"state":5}]}})"),
            (Sections{"3", "7"}));
  EXPECT_EQ(plex::changed_sections(R"({"NotificationContainer":{"type":"timeline","TimelineEntry":[
      {"identifier":"com.plexapp.plugins.library","sectionID":"3","state":1},
      {"identifier":"com.plexapp.plugins.library","sectionID":"3","state":5}]}})"),
            (Sections{"3"}))
      << "one section named once";
}

TEST(PlexNotifications, AnEndedLibraryScanNamesItsSection) {
  EXPECT_EQ(plex::changed_sections(R"({"NotificationContainer":{"type":"activity","size":1,"ActivityNotification":[
      {"event":"ended","uuid":"u","Activity":{"type":"library.update.section","Context":{"librarySectionID":"2"}}}]}})"),
            (Sections{"2"}));
  EXPECT_TRUE(plex::changed_sections(R"({"NotificationContainer":{"type":"activity","ActivityNotification":[
      {"event":"updated","Activity":{"type":"library.update.section","Context":{"librarySectionID":"2"}}}]}})")
                  .empty())
      << "a scan still running has listed nothing new yet";
  EXPECT_TRUE(plex::changed_sections(R"({"NotificationContainer":{"type":"activity","ActivityNotification":[
      {"event":"ended","Activity":{"type":"media.generate.bif","Context":{"librarySectionID":"2"}}}]}})")
                  .empty());
}

TEST(PlexNotifications, EverythingElseNamesNothing) {
  for (
      const char* text :
      {R"({"NotificationContainer":{"type":"playing","PlaySessionStateNotification":[{"sessionKey":"1"}]}})",
       R"({"NotificationContainer":{"type":"timeline","TimelineEntry":[{"identifier":"com.plexapp.plugins.playlists","sectionID":"1"}]}})",
       R"({"NotificationContainer":{"type":"timeline","TimelineEntry":"not a list"}})",
       R"({"NotificationContainer":{"type":"timeline","TimelineEntry":[{"identifier":"com.plexapp.plugins.library","sectionID":null}]}})",
       R"({"NotificationContainer":[]})", "[]", "not json at all", ""}) {
    EXPECT_TRUE(plex::changed_sections(text).empty()) << text;
  }
}

} // namespace
