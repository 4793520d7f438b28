<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis styleCategories="AllStyleCategories" minScale="1e+08" version="3.22.16-Białowieża" maxScale="0" hasScaleBasedVisibilityFlag="0">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <temporal fetchMode="0" enabled="0" mode="0">
    <fixedRange>
      <start></start>
      <end></end>
    </fixedRange>
  </temporal>
  <customproperties>
    <Option type="Map">
      <Option type="QString" name="identify/format" value="Value"/>
    </Option>
  </customproperties>
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedOutResamplingMethod="nearestNeighbour" enabled="false" maxOversampling="2" zoomedInResamplingMethod="nearestNeighbour"/>
    </provider>
    <rasterrenderer opacity="1" type="singlebandpseudocolor" classificationMin="0" alphaBand="-1" nodataColor="" band="1" classificationMax="1">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader classificationMode="1" clip="0" minimumValue="0" colorRampType="INTERPOLATED" maximumValue="1" labelPrecision="6">
          <item color="#fcffa4" alpha="0" value="0" label="0"/>
          <item color="#fafda1" alpha="14" value="0.005" label="0.005"/>
          <item color="#f9fc9d" alpha="25" value="0.01" label="0.01"/>
          <item color="#f5f992" alpha="43" value="0.02" label="0.02"/>
          <item color="#f2f27d" alpha="75" value="0.04" label="0.04"/>
          <item color="#f2ea69" alpha="104" value="0.06" label="0.06"/>
          <item color="#f4e156" alpha="131" value="0.08" label="0.08"/>
          <item color="#f6d746" alpha="157" value="0.1" label="0.1"/>
          <item color="#f9c932" alpha="187" value="0.125" label="0.125"/>
          <item color="#fbbe23" alpha="217" value="0.15" label="0.15"/>
          <item color="#fca50a" alpha="217" value="0.2" label="0.2"/>
          <item color="#f37819" alpha="217" value="0.3" label="0.3"/>
          <item color="#dd513a" alpha="217" value="0.4" label="0.4"/>
          <item color="#ba3655" alpha="217" value="0.5" label="0.5"/>
          <item color="#932667" alpha="217" value="0.6" label="0.6"/>
          <item color="#6a176e" alpha="217" value="0.7" label="0.7"/>
          <item color="#420a68" alpha="217" value="0.8" label="0.8"/>
          <item color="#160b39" alpha="217" value="0.9" label="0.9"/>
          <item color="#000004" alpha="217" value="1" label="1"/>
          <rampLegendSettings minimumLabel="" suffix="" prefix="" orientation="2" direction="0" maximumLabel="" useContinuousLegend="1">
            <numericFormat id="basic">
              <Option type="Map">
                <Option type="QChar" name="decimal_separator" value=""/>
                <Option type="int" name="decimals" value="6"/>
                <Option type="int" name="rounding_type" value="0"/>
                <Option type="bool" name="show_plus" value="false"/>
                <Option type="bool" name="show_thousand_separator" value="true"/>
                <Option type="bool" name="show_trailing_zeros" value="false"/>
                <Option type="QChar" name="thousand_separator" value=""/>
              </Option>
            </numericFormat>
          </rampLegendSettings>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast gamma="1" brightness="0" contrast="0"/>
    <huesaturation saturation="0" colorizeStrength="100" invertColors="0" grayscaleMode="0" colorizeBlue="128" colorizeOn="0" colorizeRed="255" colorizeGreen="128"/>
    <rasterresampler zoomedInResampler="bilinear" maxOversampling="2" zoomedOutResampler="bilinear"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
