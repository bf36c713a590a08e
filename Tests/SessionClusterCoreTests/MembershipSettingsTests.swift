import SessionClusterCore
import Testing

@Suite struct MembershipSettingsTests {
    private func validationError(_ change: (inout MembershipSettings) -> Void) -> SettingsError? {
        var settings = MembershipSettings()
        change(&settings)
        do {
            try settings.validate()
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsAreValidAndDocumentedValues() throws {
        let settings = MembershipSettings()
        try settings.validate()
        #expect(settings.heartbeatMillis == 500)
        #expect(settings.suspectAfterMillis == 1_500)
        #expect(settings.deadAfterMillis == 3_000)
        #expect(settings.deadRetentionMillis == 60_000)
        #expect(settings.multicast)
        #expect(settings.seeds.isEmpty)
        #expect(settings.unicastToMembers == nil)
        #expect(!settings.effectiveUnicastToMembers)
    }

    @Test func unicastToMembersDefaultsToOnExactlyWithoutMulticast() {
        var settings = MembershipSettings()
        settings.multicast = false
        #expect(settings.effectiveUnicastToMembers)
        settings.unicastToMembers = false
        #expect(!settings.effectiveUnicastToMembers)
    }

    @Test func loneNodeWithoutMulticastOrSeedsIsValid() throws {
        var settings = MembershipSettings()
        settings.multicast = false
        try settings.validate()
    }

    @Test func nonPositiveHeartbeatNamesTheField() {
        let error = validationError { $0.heartbeatMillis = 0 }
        #expect(error?.field == "membership.heartbeatMillis")
        #expect(error?.value == "0")
        #expect(error?.description == "setting membership.heartbeatMillis = 0 must be greater than 0")
    }

    @Test func suspectNotAboveHeartbeatNamesTheField() {
        let error = validationError { $0.suspectAfterMillis = 500 }
        #expect(error?.field == "membership.suspectAfterMillis")
        #expect(
            error?.description
                == "setting membership.suspectAfterMillis = 500 must be greater than membership.heartbeatMillis (500)")
    }

    @Test func suspectAtOrAfterDeadNamesTheField() {
        let error = validationError { $0.suspectAfterMillis = 3_000 }
        #expect(error?.field == "membership.deadAfterMillis")
        #expect(error?.value == "3000")
        #expect(error?.description.contains("suspectAfterMillis (3000)") == true)
    }

    @Test func retentionShorterThanDeadTimeoutNamesTheField() {
        let error = validationError { $0.deadRetentionMillis = 2_000 }
        #expect(error?.field == "membership.deadRetentionMillis")
        #expect(error?.value == "2000")
    }

    @Test func malformedSeedNamesItsIndexAndValue() {
        for bad in ["", "host", ":4000", "host:", "host:0", "host:65536", "host:40a0", "::1:4000", "a b:4000"] {
            let error = validationError { $0.seeds = ["198.51.100.1:4000", bad] }
            #expect(error?.field == "membership.seeds[1]", "\(bad)")
            #expect(error?.value == bad)
        }
        #expect(validationError { $0.seeds = ["node-1.example:4000", "[::1]:4000", "198.51.100.1:65535"] } == nil)
    }
}
